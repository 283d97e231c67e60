#!/usr/bin/env bash
# Installs what todod needs to build, run and test on Debian 12, and only what is missing.
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build
      libuv1-dev libpq-dev librdkafka-dev libical-dev libjansson-dev
      libjwt-dev libargon2-dev libssl-dev libcurl4-openssl-dev node-llhttp
      postgresql tzdata curl)   # curl: the README's examples and the bench scripts
# libcurl4-openssl-dev: core/curl.c (webhooks, SMTP) and the tests' HTTP client.
# Tests: criterion, valgrind (the leak test); they also run throwaway clusters with
# postgresql's initdb and check time zones against tzdata.
pkgs+=(libcriterion-dev valgrind)
# The MCP test runs the official MCP TypeScript SDK client (tests/mcp) on Node.js; npm comes
# with nodesource's nodejs, Debian's needs its npm package.
pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
[ "${1:-}" = "--bench" ] && pkgs+=(wrk jq postgresql-client)
# libFuzzer (make fuzz): clang and its runtime libraries (fuzzer, ASan, UBSan).
[ "${1:-}" = "--fuzz" ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The MCP test's npm packages, as package-lock.json pins them.
npm_ci() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/mcp"
  if [ ! -d "$dir/node_modules" ]; then
    echo "npm ci in tests/mcp"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}
if [ ${#missing[@]} -eq 0 ]; then npm_ci; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The postgresql package starts a system cluster we do not use; todod runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q postgresql 2>/dev/null; then
  $SUDO systemctl stop postgresql || true
fi
npm_ci
