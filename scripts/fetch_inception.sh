#!/usr/bin/env bash
# Get the FID-Inception weights autogan scores with (pytorch-fid's
# pt_inception-2015-12-05-6726825d.pth, the TF 2015-12-05 Inception graph ported to PyTorch;
# torch-fidelity uses the same weights), check the file's sha256 against the 8 hex digits its
# name carries, and convert it to safetensors in $AUTOGAN_HOME (default ~/.cache/autogan).
#
#   bash scripts/fetch_inception.sh              download, check, convert
#   bash scripts/fetch_inception.sh --from FILE  check and convert a .pth you downloaded
#
# Needs .venv/bin/python with torch and safetensors (bash scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=pt_inception-2015-12-05-6726825d
URL="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/$NAME.pth"
HASH_PREFIX=6726825d
HOME_DIR=${AUTOGAN_HOME:-$HOME/.cache/autogan}
OUT="$HOME_DIR/$NAME.safetensors"
PY=.venv/bin/python

from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --from) [ $# -ge 2 ] || { echo "fetch_inception.sh: --from needs a file" >&2; exit 2; }; from=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "fetch_inception.sh: unknown option '$1' (known: --from FILE.pth)" >&2; exit 2 ;;
  esac
done

if [ ! -x "$PY" ]; then
  echo "fetch_inception.sh: $PY not found; run bash scripts/setup.sh first" >&2
  exit 1
fi
mkdir -p "$HOME_DIR"

manual_help() {
  cat >&2 <<EOF
fetch_inception.sh: could not download $URL
  Download it by hand on a machine with access to github.com:
      curl -L -o $NAME.pth $URL
  copy it here, then convert it with:
      bash scripts/fetch_inception.sh --from /path/to/$NAME.pth
  (the converted file goes to $OUT)
EOF
}

if [ -z "$from" ]; then
  from="$HOME_DIR/$NAME.pth"
  if [ ! -f "$from" ]; then
    echo "fetch_inception.sh: downloading $URL"
    tmp="$from.part"
    ok=0
    if command -v curl >/dev/null 2>&1; then
      curl -fL --connect-timeout 20 --retry 2 -o "$tmp" "$URL" && ok=1
    elif command -v wget >/dev/null 2>&1; then
      wget -T 20 -O "$tmp" "$URL" && ok=1
    else
      "$PY" - "$URL" "$tmp" <<'EOF' && ok=1
import sys, urllib.request
urllib.request.urlretrieve(sys.argv[1], sys.argv[2])
EOF
    fi
    if [ "$ok" != 1 ]; then
      rm -f "$tmp"
      manual_help
      exit 1
    fi
    mv "$tmp" "$from"
  fi
fi

if [ ! -f "$from" ]; then
  echo "fetch_inception.sh: $from: no such file" >&2
  exit 1
fi

sum=$("$PY" - "$from" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
print(h.hexdigest())
EOF
)
case "$sum" in
  "$HASH_PREFIX"*) echo "fetch_inception.sh: sha256 $sum (matches the file name's $HASH_PREFIX)" ;;
  *)
    echo "fetch_inception.sh: $from has sha256 $sum, but $NAME.pth starts with $HASH_PREFIX:" >&2
    echo "  the file is damaged or a different one; download it again from $URL" >&2
    exit 1 ;;
esac

"$PY" scripts/convert_inception.py "$from" "$OUT"
echo "fetch_inception.sh: ready: $OUT"
