#!/bin/sh
# Builds the fuzz targets with clang's libFuzzer, ASan and UBSan, and runs
# each for FUZZ_SECONDS (default 60) on its corpus. New crashes land in
# tests/fuzz/crashes/; copy a fixed one into corpus/TARGET/ so `make check`
# replays it for ever. Usage: tests/fuzz/run.sh [TARGET...]
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/_build/fuzz"
seconds=${FUZZ_SECONDS:-60}
targets=${*:-"config rulefile decide matrix_json wordmodel"}
mkdir -p "$build" "$top/tests/fuzz/crashes"
cd "$build"
[ -f config.h ] || "$top/configure" -q CC=clang >/dev/null
make -s src/libbart.la >/dev/null 2>&1 || true
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -I. -I$top/src
 -DPCRE2_CODE_UNIT_WIDTH=8 $(pkg-config --cflags libstrophe jansson libpcre2-8)"
libs="$(pkg-config --libs libstrophe libcurl jansson libpcre2-8 sqlite3 libutf8proc yaml-0.1 libcrypto) -lpthread -lm"
srcs=$(ls "$top"/src/*.c | grep -v -e '/bartd\.c$' -e '/bartctl')
for t in $targets; do
	echo "== fuzz_$t ($seconds s)"
	clang $cflags -o "fuzz_$t" "$top/tests/fuzz/fuzz_$t.c" $srcs $libs
	mkdir -p "corpus_$t"
	BART_FUZZ_RULES="$top/rules" ./"fuzz_$t" -max_total_time="$seconds" \
	    -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$top/tests/fuzz/crashes/$t-" \
	    "corpus_$t" "$top/tests/fuzz/corpus/$t"
done
