#!/usr/bin/env bash
# A real single-node Slurm for tests, in a temporary directory: munged (as
# user munge, its own key and socket), slurmctld -D and slurmd -D on
# 127.0.0.1 with free ports, a generated slurm.conf, job records in a jobcomp
# file. Runs COMMAND with SLURM_CONF (and POUCH_SLURM_DIR, the directory) set
# once the node is idle, tears everything down on exit, and exits with
# COMMAND's status.
#
# usage: local_slurm.sh [--keep] -- COMMAND [ARGS...]
#
# Exit 77 (CTest SKIP_RETURN_CODE) when Slurm or munge is not installed or
# will not start, naming why; with CI set (not empty) that is exit 1 instead:
# CI installs them (scripts/setup.sh), so a skip there would hide a broken
# environment.
#
# Test settings (why they differ from a site's):
#  - AuthInfo cred_expire=10: a requeued job may start again only after the
#    credentials of its last run expired (default 120 s).
#  - SchedulerParameters=sched_interval=1: the scheduler also runs every second,
#    not every 60 s, so a job whose begin time passes starts at once.
#  - KillWait=5: SIGTERM -> SIGKILL at the time limit and on scancel (default 30 s).
#  - TaskPlugin=task/none: tasks are not bound to cores (no cgroups here), the
#    case where ranks must divide the cores themselves.
set -uo pipefail

keep=0
while (($#)); do
  case "$1" in
    --keep) keep=1; shift ;;
    --) shift; break ;;
    *) echo "local_slurm.sh: unknown option $1 (usage: local_slurm.sh [--keep] -- COMMAND...)" >&2; exit 2 ;;
  esac
done
(($#)) || { echo "local_slurm.sh: no COMMAND (usage: local_slurm.sh [--keep] -- COMMAND...)" >&2; exit 2; }

cannot_start() {
  if [[ -n "${CI:-}" ]]; then
    echo "local_slurm.sh: FAIL: $1 (CI is set and scripts/setup.sh installs slurm-wlm and munge: broken environment)" >&2
    exit 1
  fi
  echo "local_slurm.sh: SKIP: $1" >&2
  exit 77
}

for tool in munged slurmctld slurmd sbatch srun scontrol squeue; do
  command -v "$tool" > /dev/null || cannot_start "$tool not found (apt-get install slurm-wlm munge)"
done
id munge > /dev/null 2>&1 || cannot_start "no user munge (apt-get install munge)"
[[ $(id -u) -eq 0 ]] || cannot_start "slurmd must run as root here (it starts jobs as the submitting user)"

dir=$(mktemp -d -t pouch-slurm.XXXXXX)
chmod 755 "$dir"
pids=()
teardown() {
  if [[ -n "${SLURM_CONF:-}" ]]; then
    scancel --quiet --full --signal=KILL --state=RUNNING "--user=$(id -un)" > /dev/null 2>&1
    scancel --quiet "--user=$(id -un)" > /dev/null 2>&1
    for _ in $(seq 20); do
      [[ -z $(squeue -h -o %i 2> /dev/null) ]] && break
      sleep 0.5
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2> /dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 20); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.25
    done
    kill -9 "$pid" 2> /dev/null
  done
  if ((keep)); then echo "local_slurm.sh: kept $dir" >&2; else rm -rf "$dir"; fi
}
trap teardown EXIT
trap 'exit 143' TERM INT

# munge: key and socket in our directory, owned by munge as munged insists.
mkdir -p "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chown -R munge: "$dir/munge"
chmod 700 "$dir/munge"
chmod 400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"
runuser -u munge -- munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed" \
  > "$dir/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 40); do
  [[ -S $socket ]] && break
  sleep 0.25
done
[[ -S $socket ]] || cannot_start "munged did not start: $(tail -n 3 "$dir/munged.out" "$dir/munge/munged.log" 2> /dev/null)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctl_port=$(free_port)
node_port=$(free_port)
host=$(hostname -s)
cpus=$(nproc)
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat > "$dir/slurm.conf" << CONF
ClusterName=pouchtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$node_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=3600
KillWait=5
OverTimeLimit=0
InactiveLimit=0
MessageTimeout=10
SlurmdTimeout=60
SlurmctldTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
export POUCH_SLURM_DIR="$dir"

slurmctld -D -f "$SLURM_CONF" > "$dir/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > "$dir/log/slurmd.out" 2>&1 &
pids+=($!)
state=""
for _ in $(seq 120); do
  state=$(sinfo -h -n "$host" -o %t 2> /dev/null)
  [[ $state == idle ]] && break
  for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null || break 2; done
  sleep 0.25
done
if [[ $state != idle ]]; then
  tail -n 5 "$dir"/log/*.log "$dir"/log/*.out >&2
  cannot_start "the node did not become idle (state '${state}')"
fi

"$@"
