#!/bin/sh
# Installs the Debian 12 packages that building, testing and fuzzing mapihttp
# need. Idempotent: when every package is already there it changes nothing and
# makes no network access. Run as root (or with sudo available).
set -eu

PKGS="cmake ninja-build pkg-config gcc libc6-dev clang libclang-rt-14-dev clang-format \
libcmocka-dev libcurl4-openssl-dev libxml2-dev libjansson-dev libsqlite3-dev libcrypt-dev \
libmicrohttpd-dev valgrind openssl"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "deps.sh: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
