#!/bin/sh
# bartctl route explain: which route and desk a message takes, and why the
# routes before it did not match (tests/conf/routes.yaml, its test rules).
. "${top_srcdir:-.}/tests/lib/tap.sh"
ctl="$top_builddir/src/bartctl"
cfg="$top_srcdir/tests/conf/routes.yaml"
out=$(mktemp)
trap 'rm -f "$out"; rm -rf "$tap_dir"' EXIT

"$ctl" -c "$cfg" route explain --at 2026-11-23T22:30:00Z \
    "ze zijn nu aan het inbreken bij nr 12" >"$out" 2>&1; rc=$?
is "$rc" 0 "route explain runs"
grep -q "^decision: inbraak / spoed (rules: inbraak-nu)" "$out"
ok $? "it shows the decision and the rule"
grep -q "^route 1 (.*routes.yaml:11): none of its rules fired" "$out"
ok $? "route 1 is skipped with the reason and its file:line"
grep -q "^route 2 (.*routes.yaml:14): matches -> politie-spoed" "$out"
ok $? "route 2 matches"
grep -q "^desks: politie-spoed$" "$out"
ok $? "the desk is the control room"
[ $? -eq 0 ] || sed 's/^/#   /' "$out"

"$ctl" -c "$cfg" route explain "gezellige buurtbarbecue" >"$out" 2>&1
grep -q "not forwarded to any desk" "$out"
ok $? "chit-chat goes nowhere"

"$ctl" -c "$cfg" route explain --at yesterday "x" >"$out" 2>&1; rc=$?
is "$rc" 2 "a bad --at is refused"
done_testing
