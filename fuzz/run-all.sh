#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60), one after another (one core each), and
# prints a Markdown table of the results. Logs go to target/fuzz-logs/<target>.log.
#
#   ./run-all.sh            # 60 s each
#   ./run-all.sh 600        # 10 min each
#   SANITIZER=none ./run-all.sh   # if the AddressSanitizer build does not work here
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-60}"
SANITIZER="${SANITIZER:-address}"
TARGETS=(key_text key_object key_object_pem iam_answer metadata_answer context)
export RUSTC_BOOTSTRAP=1   # cargo fuzz needs -Z flags; this lets the stable toolchain take them

cargo fuzz build -O --sanitizer "$SANITIZER" || exit 1
mkdir -p target/fuzz-logs
echo "| target | seconds | total runs | exec/s | corpus | coverage (cov) | crashes |"
echo "|---|---|---|---|---|---|---|"
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t"
    max_len=4096
    case "$t" in key_*) max_len=8192 ;; esac
    log="target/fuzz-logs/$t.log"
    cargo fuzz run -O --sanitizer "$SANITIZER" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    corpus=$(ls "corpus/$t" | wc -l)
    if [ "$rc" -eq 0 ]; then crash="none"; else crash="**yes** (exit $rc, see $log and artifacts/$t/)"; fi
    echo "| $t | $SECONDS_EACH | ${runs:-?} | ${eps:-?} | $corpus | ${cov:-?} | $crash |"
done
