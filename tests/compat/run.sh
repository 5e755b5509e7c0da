#!/usr/bin/env bash
# The compatibility suite: every case in cases/ is bundled with esbuild into one ES module,
# run by node and by `jobvisor run`, and the two results are compared exactly.
#
#   tests/compat/run.sh [PATH_TO_JOBVISOR] [CASE...]
#
# PATH_TO_JOBVISOR defaults to $JOBVISOR, else target/debug/jobvisor (its jobvisor-worker
# must sit beside it). CASE names (the file names in cases/ without .mjs) run a subset.
# The script fails when a case outside known-failures.txt fails, or a listed one passes.
# A case whose first line is `// jobvisor: node_compat` runs with `jobvisor run --node-compat`
# (node's Buffer and a minimal process, as a `[[script]]` with `node_compat = true`).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
jobvisor="${1:-${JOBVISOR:-$repo/target/debug/jobvisor}}"
shift || true
if [ ! -x "$jobvisor" ] || [ -d "$jobvisor" ]; then
  echo "compat: $jobvisor is not an executable jobvisor: build it first (cargo build -p jobvisor --bins -p jobvisor-worker)" >&2
  exit 2
fi
jobvisor="$(realpath "$jobvisor")"
if [ -z "${JOBVISOR_WORKER:-}" ] && [ ! -x "$(dirname "$jobvisor")/jobvisor-worker" ]; then
  echo "compat: no jobvisor-worker beside $jobvisor (or set JOBVISOR_WORKER)" >&2
  exit 2
fi

# node and npm from the distribution when they are missing (as root).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "compat: node and npm are needed (apt-get install nodejs npm)" >&2
    exit 2
  fi
  echo "== installing nodejs npm"
  apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm
fi

# The libraries and esbuild, exactly as package-lock.json pins them; installed again only
# when the lock file changed since the last install.
cd "$here"
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x node_modules/.bin/esbuild ] || [ "$(cat node_modules/.compat-lock 2>/dev/null)" != "$lock_sum" ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.compat-lock
fi

out="$here/out"
rm -rf "$out"
mkdir -p "$out"

if [ "$#" -gt 0 ]; then
  cases=("$@")
else
  cases=()
  for file in cases/*.mjs; do
    cases+=("$(basename "$file" .mjs)")
  done
fi
for name in "${cases[@]}"; do
  if [ ! -f "cases/$name.mjs" ]; then
    echo "compat: no case cases/$name.mjs" >&2
    exit 2
  fi
done

# What an edge runtime's bundler does: one ES module, browser builds of the packages
# (the `browser` field and export condition, plus `worker`), NODE_ENV fixed at build time,
# the code left as published (no down-levelling, no minification).
esbuild_flags=(--bundle --format=esm --platform=browser --conditions=worker
  '--define:process.env.NODE_ENV="production"' --log-level=error)

export TZ=UTC
run_case() {
  local name="$1"
  if ! node_modules/.bin/esbuild "cases/$name.mjs" "${esbuild_flags[@]}" --outfile="$out/$name.js" \
    2> "$out/$name.bundle.err"; then
    return 0
  fi
  timeout 120 node lib/node-runner.mjs "$out/$name.js" payload.json > "$out/$name.node.json" 2> "$out/$name.node.err" || true
  local options=()
  if [ "$(head -n 1 "cases/$name.mjs")" = "// jobvisor: node_compat" ]; then
    options+=(--node-compat)
  fi
  "$jobvisor" run "$out/$name.js" "${options[@]}" --payload @payload.json --json --timeout 60s --memory 512MiB \
    > "$out/$name.jobvisor.json" 2> "$out/$name.jobvisor.err" || true
}

echo "== running ${#cases[@]} cases with $jobvisor"
started=$SECONDS
parallel="$(nproc)"
running=0
for name in "${cases[@]}"; do
  run_case "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
echo "   bundled and ran in $((SECONDS - started))s"

node lib/report.mjs "$out" known-failures.txt "${cases[@]}"
