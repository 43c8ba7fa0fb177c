#!/usr/bin/env bash
# A single-node Slurm on this machine: for trying `--launcher slurm` on a laptop, and for
# tests/slurm.rs.
#
#   scripts/slurm/start.sh [DIR]      DIR defaults to ${TMPDIR:-/tmp}/autogan-slurm
#   export SLURM_CONF=DIR/slurm.conf  (what the script prints last; sbatch/squeue need it)
#   scripts/slurm/stop.sh [DIR]
#
# Needs root. Installs slurmctld, slurmd, slurm-client and munge with apt-get where they are
# missing (Debian/Ubuntu), starts munged (unless one runs already), writes slurm.conf with
# every state, spool, pid and log file under DIR, starts slurmctld and slurmd, and waits until
# the node is idle. Idempotent: a Slurm already started from DIR is stopped first.
# No systemd or cgroups needed (proctrack/linuxproc, task/none); no slurmdbd, so `sacct` does
# not work: use `squeue -t all` and `scontrol show job`.
#
# Exit status 77 means "cannot run here" (not root, or Slurm missing and no apt-get), with the
# reason on stderr; any other non-zero status is a failure to start.
# Environment: AUTOGAN_SLURM_PORT (slurmctld's port, default 6817; slurmd uses the next one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-${TMPDIR:-/tmp}/autogan-slurm}
port=${AUTOGAN_SLURM_PORT:-6817}
unavailable() {
  echo "start.sh: $*" >&2
  exit 77
}
say() { echo "start.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || unavailable "needs root (it starts slurmctld and slurmd as root and may apt-get install Slurm)"
export PATH=$PATH:/usr/sbin:/sbin

missing=()
for b in slurmctld slurmd sbatch munged; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 ||
    unavailable "Slurm is not installed (${missing[*]} missing) and there is no apt-get to install it"
  say "installing slurmctld slurmd slurm-client munge with apt-get (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bash "$here/stop.sh" "$dir" >/dev/null 2>&1 || true
rm -rf "$dir/state" "$dir/spool"
mkdir -p "$dir/state" "$dir/spool"

# munge: the package creates the key; start munged as user munge unless one is running.
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  runuser -u munge -- /usr/sbin/mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
    { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null &&
      chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key; }
fi
munge_pid=$(cat /run/munge/munged.pid 2>/dev/null || true)
if [ -z "$munge_pid" ] || ! kill -0 "$munge_pid" 2>/dev/null; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged --force
  cat /run/munge/munged.pid >"$dir/munged.ours"
fi

host=$(hostname -s)
node=$(slurmd -C | head -n 1)
case "$node" in
  NodeName=*) ;;
  *) say "unexpected output of 'slurmd -C': $node"; exit 1 ;;
esac
cat >"$dir/slurm.conf" <<CONF
# Written by scripts/slurm/start.sh: a single-node Slurm with everything under $dir.
ClusterName=autogan
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
KillWait=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

state=""
for _ in $(seq 1 300); do
  state=$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
if [ "$state" != idle ]; then
  say "the node did not become idle within 60 s (state '${state:-none}'); logs: $dir/slurmctld.log, $dir/slurmd.log"
  tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  exit 1
fi
say "Slurm is up ($node)"
echo "export SLURM_CONF=$dir/slurm.conf"
