#!/usr/bin/env bash
# Peer benchmark: BullMQ sandboxed processors on a private, throw-away Redis.
#
#   bash bench/peers/bullmq/run.sh [--jobs N] [--fib-jobs N] [--runs 3] [--json out.json]
#                                  [--fsync everysec,always] [--workloads trivial,fib]
#                                  [--no-trickle] [--rate 500] [--duration 20] [--warmup W]
#                                  [--clock drain|e2e]
#
# Installs redis-server (apt) and bullmq (npm ci) only when missing, then for each fsync
# mode starts its own redis-server on a free loopback port in a temp dir, runs the
# workloads, stops it and deletes the dir. Never touches a system Redis.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

JOBS=20000
FIB_JOBS=""
RUNS=3
JSON_OUT=""
FSYNCS="everysec,always"
WORKLOADS="trivial,fib"
TRICKLE=1
RATE=500
DURATION=20
CHUNK=1000
WARMUP=0
CLOCK=drain

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) JOBS="$2"; shift 2 ;;
    --fib-jobs) FIB_JOBS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --json) JSON_OUT="$2"; shift 2 ;;
    --fsync) FSYNCS="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --no-trickle) TRICKLE=0; shift ;;
    --trickle) TRICKLE=1; shift ;;
    --rate) RATE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --chunk) CHUNK="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --clock) CLOCK="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
# fib jobs default to a tenth of the trivial count (20,000 -> 2,000)
[ -n "$FIB_JOBS" ] || FIB_JOBS=$(( JOBS / 10 > 0 ? JOBS / 10 : 1 ))
case "$JSON_OUT" in ""|/*) ;; *) JSON_OUT="$PWD/$JSON_OUT" ;; esac

log() { printf '[bullmq-bench] %s\n' "$*" >&2; }

# ------------------------------------------------------------------ 1. install
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server (apt)"
  if [ "$(id -u)" -ne 0 ]; then echo "redis-server is missing and we are not root" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
  # the package may start the system service; we never use it, so leave it as it is
fi
command -v node >/dev/null || { echo "node is required (v20+)" >&2; exit 1; }
if [ ! -f "$HERE/node_modules/bullmq/package.json" ]; then
  log "installing bullmq (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

# ------------------------------------------------------------------ 2. private redis
# a temp dir on a real disk (not tmpfs), so that fsync costs what it costs
TMPBASE="${TMPDIR:-/tmp}"
if [ "$(stat -f -c %T "$TMPBASE" 2>/dev/null)" = "tmpfs" ]; then TMPBASE=/var/tmp; fi
WORK="$(mktemp -d "$TMPBASE/bullmq-bench.XXXXXX")"
REDIS_PID=""

stop_redis() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$REDIS_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$REDIS_PID" 2>/dev/null || true
  fi
  REDIS_PID=""
}
cleanup() {
  stop_redis
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

start_redis() { # $1 = everysec|always
  local mode="$1" dir="$WORK/redis-$1"
  mkdir -p "$dir"
  REDIS_PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --dir "$dir" --daemonize no --logfile "$dir/redis.log" --save "" \
    --appendonly yes --appendfsync "$mode" --maxmemory-policy noeviction \
    >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
      log "redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') pid $REDIS_PID on 127.0.0.1:$REDIS_PORT, appendonly yes, appendfsync $mode, dir $dir"
      return 0
    fi
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "redis-server did not start; log:" >&2; cat "$dir/redis.log" >&2 || true
  exit 1
}

# ------------------------------------------------------------------ 3. workloads
RESULT_FILES=()
IFS=, read -r -a FSYNC_LIST <<<"$FSYNCS"
IFS=, read -r -a WORKLOAD_LIST <<<"$WORKLOADS"
log "runs=$RUNS trivial jobs=$JOBS fib jobs=$FIB_JOBS chunk=$CHUNK warmup=$WARMUP clock=$CLOCK trickle=$TRICKLE (${RATE}/s for ${DURATION}s, everysec only)"
for fs in "${FSYNC_LIST[@]}"; do
  start_redis "$fs"
  for wl in "${WORKLOAD_LIST[@]}"; do
    n="$JOBS"; [ "$wl" = fib ] && n="$FIB_JOBS"
    out="$WORK/$fs-$wl-burst.json"
    # disk fdatasync latency just before each block (~1 s), so a slow-disk stretch shows in the JSON
    node "$HERE/bench.mjs" --role fsync-probe --dir "$WORK/redis-$fs" --out "${out%.json}.fsync-probe.json" || true
    log "$fs / $wl / burst: $n jobs x $RUNS runs"
    node "$HERE/bench.mjs" --port "$REDIS_PORT" --fsync "$fs" --workload "$wl" --mode burst \
      --jobs "$n" --runs "$RUNS" --chunk "$CHUNK" --warmup "$WARMUP" --clock "$CLOCK" --concurrency 2 --out "$out"
    RESULT_FILES+=("$out")
  done
  if [ "$TRICKLE" = 1 ] && [ "$fs" = everysec ]; then
    out="$WORK/$fs-trivial-trickle.json"
    node "$HERE/bench.mjs" --role fsync-probe --dir "$WORK/redis-$fs" --out "${out%.json}.fsync-probe.json" || true
    log "$fs / trivial / trickle: ${RATE}/s for ${DURATION}s x $RUNS runs"
    node "$HERE/bench.mjs" --port "$REDIS_PORT" --fsync "$fs" --workload trivial --mode trickle \
      --rate "$RATE" --duration "$DURATION" --runs "$RUNS" --concurrency 2 --out "$out"
    RESULT_FILES+=("$out")
  fi
  stop_redis
done

# ------------------------------------------------------------------ report
if [ -n "$JSON_OUT" ]; then
  node "$HERE/bench.mjs" --role report "${RESULT_FILES[@]}" --json "$JSON_OUT"
  log "JSON written to $JSON_OUT"
else
  node "$HERE/bench.mjs" --role report "${RESULT_FILES[@]}"
fi
