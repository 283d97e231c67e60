#!/usr/bin/env bash
# Installs what todod needs to build, run and test on Debian 12, and only what is missing.
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build
      libuv1-dev libpq-dev librdkafka-dev libical-dev libjansson-dev
      libjwt-dev libargon2-dev libssl-dev libwslay-dev node-llhttp
      postgresql tzdata curl)   # curl: the README's examples and the bench scripts
# Tests: criterion, libcurl (their HTTP client), valgrind (the leak test); they also run
# throwaway clusters with postgresql's initdb and check time zones against tzdata.
pkgs+=(libcriterion-dev libcurl4-openssl-dev valgrind)
# Browser tests (tests/browser): node and npm, and Debian's chromium, which playwright-core
# drives (it never downloads a browser of its own).
if [ -z "${1:-}" ]; then
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
  pkgs+=(chromium)
fi
[ "${1:-}" = "--bench" ] && pkgs+=(wrk jq postgresql-client)
# libFuzzer (make fuzz): clang and its runtime libraries (fuzzer, ASan, UBSan).
[ "${1:-}" = "--fuzz" ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The postgresql package starts a system cluster we do not use; todod runs its own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q postgresql 2>/dev/null; then
    $SUDO systemctl stop postgresql || true
  fi
fi
# The browser tests' node modules (playwright-core, axe-core), exactly as locked, when they
# are missing or older than the lock file.
if [ -z "${1:-}" ]; then
  browser="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
  if [ ! -f "$browser/node_modules/.package-lock.json" ] ||
     [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; then
    echo "installing the browser tests' node modules (npm ci)"
    (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
