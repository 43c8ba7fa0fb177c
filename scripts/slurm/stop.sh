#!/usr/bin/env bash
# Stop the Slurm that scripts/slurm/start.sh started from DIR: its jobs, slurmd and slurmctld
# by their pid files, and munged if start.sh started it. Safe to run twice.
#   scripts/slurm/stop.sh [DIR]       DIR defaults to ${TMPDIR:-/tmp}/autogan-slurm
set -uo pipefail
dir=${1:-${TMPDIR:-/tmp}/autogan-slurm}
export PATH=$PATH:/usr/sbin:/sbin

stop_pid() { # pid: TERM, wait up to 10 s, then KILL
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null
}

if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ] && command -v scancel >/dev/null 2>&1; then
  SLURM_CONF=$dir/slurm.conf timeout 10 scancel --user="$(id -un)" 2>/dev/null
fi
for d in slurmd slurmctld; do
  f=$dir/$d.pid
  if [ -f "$f" ]; then
    stop_pid "$(cat "$f")"
    rm -f "$f"
  fi
done
if [ -f "$dir/munged.ours" ]; then
  stop_pid "$(cat "$dir/munged.ours")"
  rm -f "$dir/munged.ours"
fi
echo "stop.sh: stopped the Slurm of $dir"
