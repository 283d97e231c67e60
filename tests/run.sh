#!/usr/bin/env bash
# Runs every test suite: unit and integration tests (ASan+UBSan build), then counts them.
# TODOD_RELEASE_BIN points the valgrind leak test at the optimised, unsanitised binary.
set -uo pipefail
test_build=${1:-build-test}
release_build=${2:-build}
export TODOD_RELEASE_BIN="$(cd "$release_build" && pwd)/todod"
meson test -C "$test_build" --print-errorlogs --num-processes 2
rc=$?
log="$test_build/meson-logs/testlog.txt"
passed=$(grep -cE '^ok ' "$log" || true)
failed=$(grep -cE '^not ok ' "$log" || true)
# Criterion counts a test whose forked worker leaked as passed: LeakSanitizer's report in
# the log is what tells, so it fails the run here.
if grep -q "ERROR: LeakSanitizer" "$log"; then
    echo "LeakSanitizer reported leaks:"
    grep -B2 -A12 "ERROR: LeakSanitizer" "$log" | head -80
    rc=1
fi
echo
echo "tests: ${passed} passed, ${failed} failed"
exit $rc
