#!/usr/bin/env bash
# One job's latency (enqueue --wait, sequential) on a store that holds N idle queues:
# the claim must cost the same with 100,000 queues that never get work as with none.
#
#   bash bench/idle-queues.sh [N=100000] [JOBS=50]
#
# Uses $JOBVISOR (default: jobvisor on PATH) and $JOBVISOR_WORKER, and the sqlite3 CLI to
# add the idle queues while the daemon is stopped. Prints ms per job with 0 and N queues.
set -euo pipefail
queues="${1:-100000}"
jobs="${2:-50}"
jobvisor="${JOBVISOR:-jobvisor}"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
echo 'export default (p) => p' > "$dir/echo.js"
cat > "$dir/jobvisor.toml" <<EOF
state_dir = "$dir/data"
run_dir = "$dir/run"
[workers]
count = 1
[[script]]
name = "echo"
path = "$dir/echo.js"
EOF

start() {
    "$jobvisor" serve --config "$dir/jobvisor.toml" 2>>"$dir/daemon.log" &
    pid=$!
    until "$jobvisor" status --config "$dir/jobvisor.toml" >/dev/null 2>&1; do sleep 0.1; done
}

per_job_ms() {
    "$jobvisor" enqueue echo --wait --config "$dir/jobvisor.toml" >/dev/null
    local begin end
    begin=$(date +%s%N)
    for _ in $(seq "$jobs"); do
        "$jobvisor" enqueue echo --wait --config "$dir/jobvisor.toml" >/dev/null
    done
    end=$(date +%s%N)
    echo $(( (end - begin) / jobs / 1000000 ))
}

start
echo "0 idle queues: $(per_job_ms) ms per job"
kill -TERM "$pid"; wait "$pid" || true
sqlite3 "$dir/data/jobvisor.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $queues)
INSERT INTO queues (name) SELECT 'idle-' || i FROM n;"
start
echo "$queues idle queues: $(per_job_ms) ms per job"
kill -TERM "$pid"; wait "$pid" || true
