#!/bin/sh
# run.sh: the matching benchmark of issue 4 ("Speed"). Generates rule sets
# of 100, 1,000 and 10,000 rules and a message file, runs bench_match (the
# engine and a plain PCRE2-JIT loop) and GNU grep -E over the same
# patterns, and prints one table. Single-threaded; throughput is per CPU
# second used (the machine may be shared), optionally pinned to one CPU
# with -c. Not a test: nothing here passes or fails on speed.
#
# usage: bench/run.sh [-s SECONDS] [-m MESSAGES] [-c CPU] [-n "100 1000 10000"]
# Environment: BENCH_MATCH (path of bench_match, default bench/bench_match
# under the current dir), srcdir (top of the source tree, default: the
# parent of this script's dir), BENCH_OUT (work dir, default bench/out).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$(dirname "$here")}
bench=${BENCH_MATCH:-bench/bench_match}
out=${BENCH_OUT:-bench/out}
secs=2.5
nmsgs=10000
cpu=
sizes="100 1000 10000"
while getopts s:m:c:n: opt; do
	case $opt in
	s) secs=$OPTARG ;;
	m) nmsgs=$OPTARG ;;
	c) cpu=$OPTARG ;;
	n) sizes=$OPTARG ;;
	*) echo "usage: $0 [-s secs] [-m messages] [-c cpu] [-n sizes]" >&2; exit 2 ;;
	esac
done
: "${PYTHON3:=python3}"
gen="$PYTHON3 $here/gen_rules.py"

if [ ! -x "$bench" ]; then
	echo "run.sh: $bench not built (make bench builds it)" >&2
	exit 1
fi
pin=
if [ -n "$cpu" ] && command -v taskset >/dev/null 2>&1 && taskset -c "$cpu" true 2>/dev/null; then
	pin="taskset -c $cpu"
fi
# grep's \b and \w follow the locale; use a UTF-8 one like the engine.
utf8=C.UTF-8
locale -a 2>/dev/null | grep -qi '^c\.utf-\?8$' || utf8=en_US.UTF-8

mkdir -p "$out"
msgs="$out/messages.txt"
$gen messages "$nmsgs" "$msgs"

# One row: label, rules dir, patterns dir.
results="$out/results.txt"
: >"$results"
row() {
	label=$1 rdir=$2 pdir=$3
	echo "== $label: $rdir" >&2
	log="$out/bench-$label.log"
	if ! $pin "$bench" -s "$secs" -p "$pdir/patterns.pcre" "$rdir" "$msgs" >"$log" 2>&1; then
		cat "$log" >&2
		echo "$label -1 -1 -1 -1 -1 -1 -1 -1" >>"$results"
		return 0
	fi
	cat "$log" >&2
	r=$(grep '^RESULT' "$log")
	get() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	g=$($PYTHON3 "$here/grep_time.py" --pin "$pin" --secs "$secs" \
	    --locale "$utf8" "$pdir/patterns.ere" "$msgs" "$out" \
	    2>"$out/grep-$label.err")
	cat "$out/grep-$label.err" >&2
	echo "grep:  $g (msgs/s, compile ms, matched fraction)" >&2
	echo "$label $(get rules) $(get bart_mps) $(get pcre2_mps) $(echo "$g" | cut -d' ' -f1) $(get run_rss_mib) $(get hwm_mib) $(get load_ms) $(echo "$g" | cut -d' ' -f2)" >>"$results"
}

# The default rule set, if there is one.
if ls "$srcdir"/rules/ 2>/dev/null | grep -q '\.\(yaml\|yml\|rules\)$'; then
	mkdir -p "$out/default"
	$gen patterns "$srcdir/rules" "$out/default"
	row default "$srcdir/rules" "$out/default"
fi
for n in $sizes; do
	$gen rules "$n" "$out/gen-$n"
	row "$n" "$out/gen-$n/rules" "$out/gen-$n"
done

echo
rev=$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo "not a git checkout")
echo "Matching benchmark: source $rev; $(wc -l <"$msgs") messages; msgs/s per CPU second of one core${pin:+ ($pin)}, best of 3 rounds in ~${secs}s"
awk '
BEGIN {
	printf "%-8s %6s %12s %12s %12s %8s %8s %8s %8s\n", "set", "rules",
	    "bart msgs/s", "pcre2 msgs/s", "grep msgs/s", "RSS MiB",
	    "peak MiB", "load ms", "grep ms"
}
{
	for (i = 3; i <= 9; i++)
		if ($i == -1)
			$i = "n/a"
	printf "%-8s %6s %12s %12s %12s %8s %8s %8s %8s\n", $1, $2, $3, $4,
	    $5, $6, $7, $8, $9
	mps[$1] = $3
}
END {
	if (mps["100"] > 0 && mps["10000"] > 0)
		printf "bart throughput 100 -> 10,000 rules: %.2fx slower (target <= 3x)\n",
		    mps["100"] / mps["10000"]
	if (mps["1000"] > 0)
		printf "bart at 1,000 rules: %.0f msgs/s (target >= 250,000)\n",
		    mps["1000"]
}' "$results"
echo "RSS = resident set of bench_match (whole process) after load and the engine run (target <= 32 MiB at"
echo "10,000 rules); peak = VmHWM, loading included;"
echo "grep ms = grep compiling the patterns alone, left out of grep msgs/s."
for f in "$out"/grep-*.err; do
	[ -s "$f" ] || continue
	l=${f##*/grep-}
	echo "grep (${l%.err}): $(tail -n 1 "$f")"
done

# Pathological regexes: a rule set whose regexes backtrack catastrophically
# ((a+)+$ and friends) against long hostile messages. The engine must keep
# each message to a bounded time; the plain PCRE2 loop (default limits) is
# shown beside it.
echo
echo "Pathological regexes, time per message: bart | plain PCRE2 loop"
$gen pathological "$out/patho"
$pin "$bench" -w -p "$out/patho/patterns.pcre" "$out/patho/rules" \
    "$out/patho/messages.txt" | sed -n '/per-message/,/^RESULT/p' | grep -v '^RESULT'
