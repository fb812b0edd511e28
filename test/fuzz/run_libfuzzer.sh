#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer harnesses (build-fuzz/, clang++ with ASan+UBSan) and runs each one from its committed seed
# corpus, one after the other. New corpus entries go to a temporary directory, findings to build-fuzz/findings/.
#   bash test/fuzz/run_libfuzzer.sh --seconds 10                  # the bounded run ctest does
#   nice -n 19 bash test/fuzz/run_libfuzzer.sh --runs 10000000    # the long run recorded in test/fuzz/README.md
#   bash test/fuzz/run_libfuzzer.sh --seconds 60 fuzz_json        # one harness
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=(-max_total_time=10)
harnesses=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) limit=(-max_total_time="$2"); shift 2 ;;
        --runs) limit=(-runs="$2"); shift 2 ;;
        fuzz_*) harnesses+=("$1"); shift ;;
        *) echo "run_libfuzzer.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_worker_wire fuzz_worker_message_check fuzz_request_check fuzz_wire_codec fuzz_json fuzz_comm_routing fuzz_front_rewrite)

build=build-fuzz
compiler=$(command -v clang++-14 || command -v clang++ || true)
[ -n "$compiler" ] || { echo "run_libfuzzer.sh: clang++ not found (scripts/install.sh installs clang-14)" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DATRIUM_FUZZ=ON -DCMAKE_CXX_COMPILER="$compiler" > /dev/null
cmake --build "$build" > /dev/null
mkdir -p "$build/findings"

# A smaller quarantine keeps each run's memory modest on a shared machine; use-after-free is still caught.
export ASAN_OPTIONS="quarantine_size_mb=64:${ASAN_OPTIONS:-}"
status=0
for harness in "${harnesses[@]}"; do
    # Long inputs add time, not coverage: message frames are short, a comm script is a few operations.
    case "$harness" in
        fuzz_json) max_len=256 ;;
        fuzz_comm_routing) max_len=512 ;;
        *) max_len=1024 ;;
    esac
    work=$(mktemp -d)
    log="$work.log" # private to this run: a bounded run may overlap a long one

    started=$(date +%s)
    if "$build/test/fuzz/$harness" "${limit[@]}" -max_len=$max_len -print_final_stats=1 \
            -artifact_prefix="$build/findings/$harness-" "$work" "test/fuzz/corpus/$harness" > "$log" 2>&1; then
        runs=$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
        echo "$harness: $runs executions in $(( $(date +%s) - started )) s, no finding"
    else
        cp "$log" "$build/findings/$harness.log"
        echo "$harness: FINDING (log: $build/findings/$harness.log)"
        grep -a -E 'ERROR|invariant broken|SUMMARY|Test unit written' "$log" | head -5
        status=1
    fi
    rm -rf "$work" "$log"
done
exit $status
