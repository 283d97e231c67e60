#!/usr/bin/env bash
# The language engine's parse rate (bench/bench_nlp.c), built against the release build's
# core library and pinned to one core. Usage: bash bench/nlp.sh [BUILD] (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lib="$build/core/libtdcore.a"
[ -f "$lib" ] || { echo "bench/nlp.sh: no $lib (build the release build first)" >&2; exit 2; }
exe="$build/bench_nlp"
# shellcheck disable=SC2046
${CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I. bench/bench_nlp.c "$lib" \
    $(pkg-config --libs libical) -licalss -lm -lpthread -o "$exe"
echo "== language engine: td_nlp_parse on one core"
taskset -c 0 "$exe" "$PWD" "${BENCH_NLP_SECONDS:-3}"
