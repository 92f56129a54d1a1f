#!/usr/bin/env bash
# Installs every build and test dependency from Debian's packages (idempotent; run as root or
# with sudo). `--tools` adds what the model tools need (PyTorch for the golden-logit reference,
# SentencePiece for the tokenizer training) and `--bench` nginx (bench/gateway_bench); the build and
# the tests do not need them.
# Test clients from the npm registry are installed by scripts/install-test-clients.sh.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libtomlplusplus-dev libboost-dev libboost-system-dev
  libssl-dev libnghttp2-dev libmaxminddb-dev
  python3 curl nodejs npm
  nghttp2-client
)
for arg in "$@"; do
  case "$arg" in
    --tools) packages+=(python3-numpy python3-torch sentencepiece python3-sentencepiece) ;;
    --bench) packages+=(nginx) ;;  # bench/gateway_bench compares the gateway with nginx
    *) echo "install-deps: unknown option $arg (--tools, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  # npm ships with the nodesource nodejs on some machines; skip it when a working npm exists.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
