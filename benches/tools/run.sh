#!/usr/bin/env bash
# Runs every bench of perfan-benches RUNS times (default 2) and keeps the
# criterion medians of each run as TSV in OUT (default target/bench-runs):
#   bash benches/tools/run.sh [RUNS] [OUT] [BENCH...]
# This machine class is noisy (shared 2-vCPU VMs): compare ratios within one
# run, and look at more than one run.
set -euo pipefail
runs=${1:-2}
out=${2:-${CARGO_TARGET_DIR:-target}/bench-runs}
shift $(( $# > 2 ? 2 : $# )) || true
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(parsers live interval process)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
cargo bench -p perfan-benches --no-run
for r in $(seq 1 "$runs"); do
    for b in "${benches[@]}"; do
        echo "== run $r: $b" >&2
        crit="$out/criterion-$b-run$r"
        rm -rf "$crit"
        CRITERION_HOME="$crit" cargo bench -p perfan-benches --bench "$b" 2>&1 \
            | tee "$out/$b-run$r.log" | grep -E 'time:' >&2 || true
        python3 "$here/medians.py" "$crit" > "$out/$b-run$r.tsv"
    done
done
echo "medians in $out" >&2
