#!/bin/sh
# bartctl rules check on the default Dutch rule set: lints it and runs
# every rule's examples and counter-examples.
. "${top_srcdir:-.}/tests/lib/tap.sh"
ctl="$top_builddir/src/bartctl"
out=$(mktemp)
trap 'rm -f "$out"; rm -rf "$tap_dir"' EXIT

"$ctl" rules check "$top_srcdir/rules" >"$out" 2>&1; rc=$?
is "$rc" 0 "rules check rules/ passes"
grep -q "^[0-9][0-9]* rules, 0 errors" "$out"
ok $? "it reports the rule count and no errors"
n=$(sed -n 's/^\([0-9]*\) rules.*/\1/p' "$out")
[ "${n:-0}" -ge 30 ]
ok $? "the default set has at least 30 rules ($n)"
for c in inbraak diefstal verdacht geweld brand overlast vandalisme \
    verkeer openbare-ruimte sociaal vermist; do
	grep -q "^  category: $c\$" "$top_srcdir"/rules/*.yaml
	ok $? "a rule for category $c"
done
sed 's/^/# /' "$out"
done_testing
