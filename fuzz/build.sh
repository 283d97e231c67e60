#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.c) into OUT (default build-fuzz) with clang,
# ASan and UBSan. Only the core files the parsers need are compiled (no database code,
# no embedded SQL). Usage: bash fuzz/build.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build-fuzz}
CC=${CC:-clang}
LLHTTP_DIR=${LLHTTP_DIR:-/usr/share/llhttp}
LLHTTP_INC=${LLHTTP_INC:-/usr/share/include/llhttp}

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all)
COMMON=(-g -O1 -fno-omit-frame-pointer -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
        '-DTODOD_VERSION="fuzz"' -I. -I"$LLHTTP_INC" "${SAN[@]}")
read -r -a PKG_CFLAGS <<<"$(pkg-config --cflags libuv jansson libjwt libargon2 openssl libical)"
read -r -a PKG_LIBS <<<"$(pkg-config --libs libuv jansson libjwt libargon2 openssl libical)"

# What the targets link: the parsers and the HTTP server, nothing that needs PostgreSQL.
CORE=(auth phc buf config door_conf http http_conn http_parse http_cors http_request http_response http_router jsonw log metrics proc task trace utf8 datetime tz rrule nlp nlp_lex nlp_en nlp_when nlp_recur nlp_slot nlp_intent)

mkdir -p "$OUT/obj"
objs=()
compile() { # src obj extra-flags...
    local src=$1 obj=$2
    shift 2
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ fuzz/build.sh -nt "$obj" ] ||
       [ -n "$(find core -name '*.h' -newer "$obj" -print -quit)" ]; then
        echo "  CC $src"
        "$CC" "${COMMON[@]}" "$@" -c "$src" -o "$obj"
    fi
    objs+=("$obj")
}
for f in "${CORE[@]}"; do
    compile "core/$f.c" "$OUT/obj/$f.o" -fsanitize=fuzzer-no-link -Wall -Wextra -Werror \
        "${PKG_CFLAGS[@]}"
done
# llhttp is instrumented too: its state machine is most of what fuzz_http explores.
for f in api http llhttp; do
    compile "$LLHTTP_DIR/$f.c" "$OUT/obj/llhttp_$f.o" -fsanitize=fuzzer-no-link -w
done

for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    exe="$OUT/$name"
    if [ ! -e "$exe" ] || [ -n "$(find "$src" "${objs[@]}" -newer "$exe" -print -quit)" ]; then
        echo "  LINK $exe"
        "$CC" "${COMMON[@]}" -fsanitize=fuzzer -Wall -Wextra -Werror "${PKG_CFLAGS[@]}" \
            "$src" "${objs[@]}" "${PKG_LIBS[@]}" -lm -lpthread -o "$exe"
    fi
done
