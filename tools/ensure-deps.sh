#!/bin/sh
# Install the Debian packages trit builds against, if any is missing.
# Called by the Makefile before the first compile; a no-op when everything is present.
set -u
need_pc="libzstd libxxhash libcjson libarchive libsodium libcrypto"
# time: GNU time measures the peak RSS of commands in the tests (test_unit_bomb.c)
# libssl-dev: libcrypto's SHA-256 (SHA-NI / ARMv8 SHA2 picked at run time) for bundle digests
debs="pkg-config libzstd-dev libxxhash-dev libcjson-dev libarchive-dev libsodium-dev libssl-dev zstd time"
[ "${1:-}" = "--fuzz" ] && debs="$debs clang libclang-rt-14-dev"
# --cross: the aarch64 toolchain and qemu-user, for the runner's NEON kernel test under emulation
[ "${1:-}" = "--cross" ] && debs="$debs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"

missing=0
command -v pkg-config >/dev/null 2>&1 || missing=1
if [ $missing -eq 0 ]; then
    for p in $need_pc; do pkg-config --exists "$p" || missing=1; done
fi
[ -x /usr/bin/time ] || missing=1
if [ "${1:-}" = "--fuzz" ]; then
    command -v clang >/dev/null 2>&1 || missing=1
fi
if [ "${1:-}" = "--cross" ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing=1
    command -v qemu-aarch64 >/dev/null 2>&1 || missing=1
    [ -e /usr/aarch64-linux-gnu/lib/libc.a ] || missing=1
fi
[ $missing -eq 0 ] && exit 0

echo "trit: installing build dependencies: $debs" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "trit: apt-get not found; install the equivalents of: $debs" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2 || exit 1
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $debs >&2 || exit 1
