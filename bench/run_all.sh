#!/usr/bin/env bash
# Run every benchmark in sequence (each prints its own baseline measured in the same run) and keep the
# raw output under bench/results/. docs/benchmarks.md summarises one such run. About 15-20 minutes on
# the 2-core machine; run it on an otherwise idle machine.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=bench/results
mkdir -p "$OUT"
run() {  # run NAME COMMAND...
  local name=$1; shift
  echo "== $name: $*"
  { echo "\$ $*"; echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"; "$@"; } \
    > "$OUT/$name.txt" 2>&1 || echo "   (exit $?)"
  tail -n 3 "$OUT/$name.txt"
}
run formats   $PY bench/bench_formats.py --sizes 1000,10000,50000,200000 --lib-size 1000
run parsers   $PY bench/parsers_bench.py 15
run vex       $PY bench/bench_vex_policy.py
run sarif     $PY bench/bench_sarif.py --sizes 1000,10000,50000 --repeat 2
run json      $PY bench/bench_json.py --sizes 1000,10000,50000 --repeat 2
run tabular   $PY bench/bench_tabular.py
run sbom      $PY bench/bench_sbom.py
run pdf       $PY bench/bench_pdf.py
run sealing   $PY bench/bench_sealing.py --large
run s3        $PY bench/bench_s3.py --large
run api       $PY bench/bench_api.py --seconds 6 --no-workers
run api-workers $PY bench/bench_api.py --seconds 6
run workers   $PY bench/bench_workers.py --rounds 20
run observability $PY bench/bench_observability.py
