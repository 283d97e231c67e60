#!/usr/bin/env bash
# Runs fuzz targets built by fuzz/build.sh, one after another, each for SECONDS.
# Usage: bash fuzz/run.sh BUILD SECONDS [TARGET...]   (TARGET: trace auth config task http nlp)
# New inputs go to BUILD/corpus/<target> (fuzz/corpus/<target> seeds it and is not
# written); a crash, leak, UB report or hang stops the run with the input saved as
# BUILD/artifacts/<target>-crash-*. Reproduce: BUILD/fuzz_<target> <that file>.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
shift 2 || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(trace auth config task http nlp)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "${targets[@]}"; do
    exe="$BUILD/fuzz_$t"
    [ -x "$exe" ] || { echo "fuzz: no $exe (run fuzz/build.sh first)" >&2; exit 2; }
    mkdir -p "$BUILD/corpus/$t" "$BUILD/artifacts"
    opts=(-max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$BUILD/artifacts/$t-")
    [ -f "fuzz/dict/$t.dict" ] && opts+=(-dict="fuzz/dict/$t.dict")
    [ "$t" = http ] && opts+=(-max_len=8192)
    echo "== fuzz_$t for ${SECONDS_EACH}s"
    # libFuzzer exits non-zero on its first finding.
    set +e
    "$exe" "${opts[@]}" "$BUILD/corpus/$t" "fuzz/corpus/$t" </dev/null 2>&1 |
        tee "$BUILD/fuzz_$t.log" | grep -aE '^#[0-9]+.*(INITED|DONE)|ERROR|SUMMARY|^stat::|fuzz_'
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "fuzz_$t FAILED (exit $rc); full log: $BUILD/fuzz_$t.log" >&2
        ls -t "$BUILD"/artifacts/"$t"-* 2>/dev/null | head -1 >&2 || true
        exit "$rc"
    fi
done
echo "fuzz: all targets ran ${SECONDS_EACH}s without a finding"
