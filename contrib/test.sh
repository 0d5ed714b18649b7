#!/bin/sh
# Sets everything up on a fresh Debian machine and runs every test:
# packages, build (with AddressSanitizer and UndefinedBehaviorSanitizer),
# the Synapse virtualenv, `make check`, then `make distcheck` (the release
# tarball builds and passes the tests too).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
contrib/install-deps.sh
./autogen.sh >/dev/null
build="$top/_build/check"
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || ../../configure -q --enable-sanitizers
make -j2 >/dev/null
# One Synapse virtualenv for this run and the distcheck below.
export BART_VENV_CACHE="${BART_VENV_CACHE:-$top/_build/venv-cache}"
if [ -x "$top/tests/lib/setup-synapse-venv.sh" ]; then
	"$top/tests/lib/setup-synapse-venv.sh" "$build" >/dev/null
fi
# Leak checking stays on; libraries' one-time globals are suppressed in
# tests/lsan.supp, nothing of bart's.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The closing summary of `make check`, printed again last.
n() { sed -n "s/^# $1: *//p" "$build/test-suite.log" | head -n 1; }
summary() {
	echo "=== make check summary"
	for k in TOTAL PASS SKIP XFAIL FAIL XPASS ERROR; do
		echo "# $k: $(n $k)"
	done
	echo "tests: $(n PASS) passed, $(($(n FAIL) + $(n ERROR) + $(n XPASS))) failed, $(n SKIP) skipped"
}
status=0
make -j2 check || status=$?
if [ $status -ne 0 ]; then
	for f in $(find tests -name '*.log' ! -name test-suite.log); do
		if grep -q '^not ok\|^Bail out\|^ERROR\|^FAIL' "$f" 2>/dev/null; then
			echo "=== $f"; tail -n 60 "$f"
		fi
	done
	summary
	exit $status
fi
echo "=== make distcheck"
make -j2 distcheck
summary
