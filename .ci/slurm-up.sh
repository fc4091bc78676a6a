#!/usr/bin/env bash
# Start a single-node SLURM cluster on 127.0.0.1 for the `slurm` tests (tests/test_slurm.py).
#
# Installs Debian's SLURM and munge if missing, writes /etc/slurm/slurm.conf and gres.conf
# (node name from `hostname -s`, CPUs and memory from `slurmd -C`, fake GPUs so that
# `--gpus=1` jobs schedule), starts munged, slurmctld and slurmd, records their PIDs in
# $ARST_SLURM_DIR/pids and waits until the node is idle. Idempotent: a cluster this script
# started and that still answers is left as it is. Stop it with .ci/slurm-down.sh.
#
# Needs root (CI and the development machines run as root). Exits non-zero, saying why,
# if the cluster does not come up.
set -euo pipefail

DIR=${ARST_SLURM_DIR:-/tmp/arst-slurm}
WAIT_S=${ARST_SLURM_WAIT_S:-60}     # how long to wait for the node to become idle
MARK="# written by arst .ci/slurm-up.sh"
PIDS="$DIR/pids"

say() { echo "slurm-up: $*" >&2; }
die() {
    say "ERROR: $*"
    for f in /var/log/munge/munged.log "$DIR"/log/*.log; do
        [ -f "$f" ] && { say "--- tail of $f"; tail -n 20 "$f" >&2; }
    done
    exit 1
}
is() { [ "$(cat "/proc/${2:-none}/comm" 2>/dev/null)" = "$1" ]; }  # NAME PID: that daemon?

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts the SLURM daemons)"

# Already up? Every recorded daemon alive and the controller answering: nothing to do.
if [ -s "$PIDS" ]; then
    up=1
    while read -r name pid; do is "$name" "$pid" || up=0; done < "$PIDS"
    if [ "$up" = 1 ] && timeout 10 sinfo -h >/dev/null 2>&1; then
        say "already running ($(tr '\n' ' ' < "$PIDS"))"
        exit 0
    fi
    say "stale $PIDS: stopping what is left and starting again"
    bash "$(dirname "$0")/slurm-down.sh" || true
fi

# 1. Packages (about 15 MB from Debian).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
        || die "apt-get install slurmctld slurmd slurm-client munge failed"
fi

mkdir -p "$DIR"/log "$DIR"/state "$DIR"/spool
: > "$PIDS"

# 2. munge: a key, its directories, then the daemon as the munge user.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
rm -f /run/munge/munged.pid
setpriv --reuid=munge --regid=munge --clear-groups \
    /usr/sbin/munged --force --log-file=/var/log/munge/munged.log --pid-file=/run/munge/munged.pid \
    || die "munged did not start"
for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
[ -s /run/munge/munged.pid ] || die "munged wrote no PID file"
echo "munged $(cat /run/munge/munged.pid)" >> "$PIDS"
munge -n | unmunge >/dev/null || die "munge round trip failed"

# 3. slurm.conf and gres.conf, from what this machine is.
NODE=$(hostname -s)
HW=$(slurmd -C | head -n 1)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
MEM=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
[ -n "$CPUS" ] && [ -n "$MEM" ] || die "could not read CPUs and RealMemory from 'slurmd -C': $HW"
MEM=$((MEM * 3 / 4))   # leave the rest to the controller, snakemake and the OS
# Fake GPUs: one per CPU by default, so that as many --gpus=1 jobs run at once as the
# node has CPUs for. slurmd counts a GPU per device file (a count-only gres registers 0
# GPUs and drains the node), so each is a character device like /dev/null (1,3).
GPUS=${ARST_SLURM_GPUS:-$CPUS}
rm -rf "$DIR/dev"
mkdir -p "$DIR/dev"
for i in $(seq 0 $((GPUS - 1))); do
    mknod -m 0666 "$DIR/dev/gpu$i" c 1 3 || die "mknod $DIR/dev/gpu$i failed"
done

for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf; do
    if [ -f "$f" ] && ! grep -qF "$MARK" "$f"; then
        say "keeping the existing $f as $f.arst-bak"
        mv "$f" "$f.arst-bak"
    fi
done
mkdir -p /etc/slurm
cat > /etc/slurm/slurm.conf <<EOF
$MARK: a single-node test cluster on loopback.
ClusterName=arst
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmdSpoolDir=$DIR/spool
StateSaveLocation=$DIR/state
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job that asks for no memory gets 1 GB per CPU, not the whole node.
DefMemPerCPU=1000
# Finished jobs stay visible to squeue (and scontrol) for 5 minutes: without accounting,
# snakemake's slurm executor reads job states with squeue.
MinJobAge=300
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:$GPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
{
    echo "$MARK"
    echo "NodeName=$NODE Name=gpu Count=$GPUS File=$DIR/dev/gpu[0-$((GPUS - 1))]"
} > /etc/slurm/gres.conf

# 4. The daemons (each forks and writes its PID file); start from an empty job state.
rm -rf "$DIR"/state/* "$DIR"/spool/* "$DIR"/slurmctld.pid "$DIR"/slurmd.pid
wait_pid() {  # NAME FILE: wait for a daemon's PID file and record it
    for _ in $(seq 100); do [ -s "$2" ] && break; sleep 0.1; done
    [ -s "$2" ] || die "$1 wrote no PID file $2"
    is "$1" "$(cat "$2")" || die "$1 exited right after starting"
    echo "$1 $(cat "$2")" >> "$PIDS"
}
/usr/sbin/slurmctld -i || die "slurmctld did not start"
wait_pid slurmctld "$DIR/slurmctld.pid"
/usr/sbin/slurmd || die "slurmd did not start"
wait_pid slurmd "$DIR/slurmd.pid"

# 5. Wait for the node to register and go idle.
state=""
for _ in $(seq $((WAIT_S * 2))); do
    state=$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null || true)
    case "$state" in
        idle*|mixed*|allocated*) break ;;
        inval*|drain*) die "node $NODE is '$state': $(scontrol show node "$NODE" | grep -o 'Reason=.*')" ;;
    esac
    sleep 0.5
done
case "$state" in
    idle*|mixed*|allocated*) ;;
    *) die "node $NODE is '${state:-not reported}' after ${WAIT_S}s, not idle" ;;
esac
say "up: node $NODE, $CPUS CPUs, ${MEM} MB, gpu:$GPUS, partition debug; PIDs in $PIDS ($(tr '\n' ' ' < "$PIDS"))"
