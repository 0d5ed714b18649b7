#!/bin/sh
# Bad input for the rule tools: a broken regex, a catastrophically
# backtracking regex, unknown keys, invalid UTF-8 and a 1 MB message.
. "${top_srcdir:-.}/tests/lib/tap.sh"
ctl="$top_builddir/src/bartctl"
work=$(mktemp -d)
trap 'rm -rf "$work" "$tap_dir"' EXIT
mkdir "$work/broken" "$work/slow"

cat >"$work/broken/r.yaml" <<'YAML'
- id: kapot
  category: brand
  keywords: [brand]
  all: ["/(nu|net/"]
  verzonnen: ja
  examples: ["brand nu"]
YAML
"$ctl" rules check "$work/broken" >"$work/out" 2>&1; rc=$?
is "$rc" 1 "rules check on a broken regex exits 1"
grep -q "r.yaml:4:18: bad regex: missing closing parenthesis" "$work/out"
ok $? "the broken regex is reported as file:line:col"
grep -q "r.yaml:5:3: unknown key \"verzonnen\"" "$work/out"
ok $? "an unknown key is an error"
"$ctl" rules test "$work/broken" /dev/null >/dev/null 2>&1
is "$?" 1 "rules test refuses a broken rule set"

mkdir "$work/weak"
cat >"$work/weak/r.yaml" <<'YAML'
- id: zwak
  category: verdacht
  score: 1
  keywords: [rondhangen]
  examples: ["ze hangen rond, rondhangen"]
  counter-examples: ["hallo"]
YAML
"$ctl" rules check "$work/weak" >"$work/out" 2>&1; rc=$?
is "$rc" 0 "a rule scoring below the threshold is allowed"
grep -q "r.yaml:1:3: warning: zwak scores 1, below the threshold 3" "$work/out"
ok $? "but rules check warns that alone it never decides a category"

for re in '^(a|ab|b)*c$' '(.*a){12}z'; do
	mkdir -p "$work/slow2"
	printf -- '- id: traag2\n  category: overlast\n  keywords: [lawaai]\n  all: ["/%s/"]\n  examples: ["lawaai"]\n' "$re" >"$work/slow2/r.yaml"
	"$ctl" rules check "$work/slow2" >"$work/out" 2>&1
	grep -q "r.yaml:4:.*backtracks catastrophically" "$work/out"
	ok $? "rules check reports $re as backtracking catastrophically"
done

cat >"$work/slow/r.yaml" <<'YAML'
- id: traag
  category: overlast
  keywords: [lawaai]
  all: ["/^(\\w+\\s?)*$/"]
  examples: ["lawaai"]
YAML
start=$(date +%s)
timeout 60 "$ctl" rules check "$work/slow" >"$work/out" 2>&1; rc=$?
is "$rc" 1 "rules check fails a catastrophically backtracking regex"
grep -q "r.yaml:4:.*backtracks catastrophically" "$work/out"
ok $? "and says which regex"
{ printf 'lawaai '; head -c 1048576 /dev/zero | sed 's/\x0\x0/ab/g' | \
    tr '\0' a; printf '!\n'; } >"$work/big.txt"
timeout 60 "$ctl" rules test --json "$work/slow" "$work/big.txt" >"$work/out" 2>&1
is "$?" 0 "a 1 MB message against it is decided"
is "$(cat "$work/out")" '{"line":1,"category":null,"urgency":null,"rules":[]}' \
    "and the regex does not match (its limit was hit)"
end=$(date +%s)
[ $((end - start)) -lt 30 ]
ok $? "all in bounded time ($((end - start)) s)"

printf 'er is \377\376 nu BRAND \300\257 in de schuur\nnormale regel\n' >"$work/bad.txt"
fix="$top_srcdir/tests/rules-fixture"
"$ctl" rules test --json "$fix" "$work/bad.txt" >"$work/out" 2>&1
is "$?" 0 "invalid UTF-8 in the messages file is no problem"
is "$(sed -n 1p "$work/out")" \
    '{"line":1,"category":"brand","urgency":"spoed","rules":["brand-nu"]}' \
    "and the words around it still match"

"$ctl" rules explain "$fix" "Er is NU brand in de schuur" >"$work/out" 2>&1
is "$?" 0 "rules explain runs"
grep -q '^FIRED brand-nu \[brand spoed +5\]: Brand' "$work/out"
ok $? "explain shows the rule that fired with its score"
grep -q 'text: Er is NU \[\[brand\]\] in de schuur' "$work/out"
ok $? "explain highlights the original words"
grep -q '^decision: brand spoed' "$work/out"
ok $? "explain shows the decision"
"$ctl" rules explain "$fix" "Er is NU brand, vals alarm" >"$work/out" 2>&1
grep -q '^FIRED cue afgehandeld (lower to info)' "$work/out"
ok $? "explain shows a cue"
"$ctl" rules bogus >/dev/null 2>&1
is "$?" 2 "unknown subcommand: exit 2"
done_testing
