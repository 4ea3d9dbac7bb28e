#!/bin/sh
# Builds mapihttp and runs every test: a normal -Werror build (unit tests,
# CLI tests, fuzz-corpus replay, header test, valgrind), the same under
# ASan+UBSan, the libFuzzer targets built with clang and smoke-run, and the
# formatting check. Installs missing Debian packages first.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0

# Runs ctest in build dir $1 and adds its test count to $passed.
run_ctest() {
	rc=0
	ctest --test-dir "$1" --output-on-failure -j "$jobs" >"$log" 2>&1 || rc=$?
	cat "$log"
	[ "$rc" -eq 0 ] || exit "$rc"
	n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\)/\1/p' "$log")
	passed=$((passed + ${n:-0}))
}

echo "== format check"
fmt_bad=$(find include src tests bench examples -name '*.[ch]' -print | sort |
	while read -r f; do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
	done)
if [ -n "$fmt_bad" ]; then
	echo "not formatted with .clang-format:" >&2
	echo "$fmt_bad" >&2
	exit 1
fi

echo "== normal build (-Werror) with valgrind"
cmake -S . -B build -G Ninja -DMH_VALGRIND=ON >/dev/null
cmake --build build -j "$jobs"
run_ctest build

echo "== install, then build against it with pkg-config and the CMake package"
prefix=$(mktemp -d)
cmake --install build --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name mapihttp.pc -exec dirname {} \; | head -n 1)
cc -std=c11 -Wall -Wextra -Werror -o "$prefix/example" examples/open_other_mailbox_entryid.c \
	$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs mapihttp)
LD_LIBRARY_PATH="$libdir/.." "$prefix/example" >/dev/null
# The static library with what pkg-config --static says it needs.
cc -std=c11 -Wall -Wextra -Werror -o "$prefix/example_static" examples/open_other_mailbox_entryid.c \
	$(PKG_CONFIG_PATH="$libdir" pkg-config --cflags mapihttp) "$libdir/../libmapihttp.a" \
	$(PKG_CONFIG_PATH="$libdir" pkg-config --static --libs mapihttp | sed 's/-lmapihttp//')
"$prefix/example_static" >/dev/null
cmake -S tests/consumer -B "$prefix/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer" >/dev/null
"$prefix/consumer/consumer_static" >/dev/null
"$prefix/consumer/consumer_shared" >/dev/null
rm -rf "$prefix"
echo "install: pkg-config and CMake package consumers build and run"

echo "== ASan+UBSan build"
cmake -S . -B build-asan -G Ninja -DMH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
run_ctest build-asan

echo "== libFuzzer targets (clang), short smoke run"
CC=clang cmake -S . -B build-fuzz -G Ninja -DMH_FUZZ=ON -DMH_SANITIZE=ON \
	-DMH_BUILD_CLI=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j "$jobs"
for f in build-fuzz/tests/fuzz_*; do
	name=$(basename "$f" | sed 's/^fuzz_//')
	corpus=$(mktemp -d)
	cp tests/fuzz/corpus/"$name"/* "$corpus"/
	"$f" -runs=20000 -max_len=4096 "$corpus" >/dev/null 2>"$corpus.log" || {
		cat "$corpus.log" >&2
		exit 1
	}
	rm -rf "$corpus" "$corpus.log"
	echo "fuzz_$name: 20000 runs clean"
	passed=$((passed + 1))
done

echo "all checks passed"
echo "check: $passed passed, 0 failed"
