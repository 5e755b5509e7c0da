#!/usr/bin/env bash
# Every end-to-end measurement in BENCHMARKS.md, then the BullMQ peer, in one go:
#
#   bash bench/run-all.sh
#
# Builds the release binaries, writes jobvisor's JSON to bench/results/e2e-json/ and the
# peer's to bench/peers/bullmq/results/peer-<HHMM>.json. About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

# Two builds: built together, the bench's dependency on the test harness would turn on
# the supervisor's test-only `failpoints` feature in the measured binary.
cargo build --release -p jobvisor -p jobvisor-worker
cargo build --release -p jobvisor-bench
target_dir="${CARGO_TARGET_DIR:-target}"
# The bench starts the jobvisor and jobvisor-worker binaries next to it.
bench="$target_dir/release/jobvisor-bench"
out=bench/results/e2e-json
mkdir -p "$out"

date -u
uptime
"$bench" --workload trivial   --mode burst   --jobs 20000 --workers 2 --runs 3 --json > "$out/trivial-burst.json"
"$bench" --workload fib       --mode burst   --jobs 2000  --workers 2 --runs 3 --json > "$out/fib-burst.json"
"$bench" --workload transform --mode burst   --jobs 2000  --workers 2 --runs 3 --json > "$out/transform-burst.json"
"$bench" --workload sleep     --mode burst   --jobs 500   --workers 2 --runs 3 --json > "$out/sleep-burst.json"
"$bench" --workload trivial   --mode trickle --rate 500 --duration 20s --workers 2 --runs 3 --json > "$out/trivial-trickle.json"
"$bench" --workload trivial   --mode scale   --jobs 20000 --workers 2 --runs 3 --json > "$out/trivial-scale.json"
"$bench" --host fetch --runs 3 --fetches 1000 --json > "$out/host-fetch.json"
"$bench" --host state --runs 3 --state-calls 2000 --jobs 10000 --json > "$out/host-state.json"
"$bench" --host stall --runs 3 --jobs 10000 --json > "$out/host-stall.json"
uptime
bash bench/peers/bullmq/run.sh --jobs 20000 --runs 3 --json "bench/peers/bullmq/results/peer-$(date -u +%H%M).json"
date -u
