#!/usr/bin/env bash
# Runs every fuzz target for a number of executions (default 10 million each) and prints
# each target's final libFuzzer line. cargo fuzz needs nightly features: RUSTC_BOOTSTRAP=1
# lets the stable toolchain accept them. Usage: fuzz/run.sh [RUNS] [TARGET...]
# FUZZ_SANITIZER=none builds without AddressSanitizer: the Rust code's panics are still
# caught, at several times the speed (for capture_reader, 13,000 runs/s against 340).
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-10000000}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=($(RUSTC_BOOTSTRAP=1 cargo fuzz list))
fi
mkdir -p logs
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s "${FUZZ_SANITIZER:-address}" "$target" "corpus/$target" -- \
        -runs="$runs" -max_len=4096 -print_final_stats=1 >"logs/$target.log" 2>&1 || {
        echo "$target: FAILED (see fuzz/logs/$target.log; the crashing input is in fuzz/artifacts/$target/)"
        continue
    }
    execs=$(grep -m1 '^stat::number_of_executed_units' "logs/$target.log" | awk '{print $2}')
    secs=$(grep -m1 '^stat::average_exec_per_sec' "logs/$target.log" | awk '{print $2}')
    echo "$target: $execs executions without a crash ($secs per second)"
done
