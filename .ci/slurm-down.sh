#!/usr/bin/env bash
# Stop the daemons .ci/slurm-up.sh started: each by the PID it recorded, slurmd and
# slurmctld before munged; wait for each to exit (SIGKILL after 15 s). Safe to run twice.
set -uo pipefail

DIR=${ARST_SLURM_DIR:-/tmp/arst-slurm}
PIDS="$DIR/pids"
say() { echo "slurm-down: $*" >&2; }

[ -s "$PIDS" ] || { say "nothing recorded in $PIDS"; exit 0; }

# Cancel whatever is still queued or running, while the controller is there to do it.
scancel --quiet --user="$(id -un)" 2>/dev/null || true

for name in slurmd slurmctld munged; do
    pid=$(awk -v n="$name" '$1 == n { print $2 }' "$PIDS")
    [ -n "$pid" ] || continue
    # A PID from an earlier boot or session may belong to another process by now.
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$name" ]; then
        say "$name ($pid) already gone"
        continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) still there after 15 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name ($pid)"
done
rm -f "$PIDS"
