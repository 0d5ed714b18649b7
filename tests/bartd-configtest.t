#!/bin/sh
# bartd -n: valid configurations pass, every broken one fails with the
# errors a user needs, each as file:line: message. The expected messages
# stand in each test config as "# expect: ..." lines.
. "${top_srcdir:-.}/tests/lib/tap.sh"
bartd="$top_builddir/src/bartd"
dir="$top_srcdir/tests/conf"
out=$(mktemp)
trap 'rm -f "$out"; rm -rf "$tap_dir"' EXIT

"$bartd" -n -c "$dir/good.yaml" >"$out" 2>&1; rc=$?
is "$rc" 0 "good.yaml is accepted"
grep -q "configuration OK" "$out"; ok $? "good.yaml: says the configuration is OK"

for f in "$dir"/bad-*.yaml; do
	name=$(basename "$f")
	"$bartd" -n -c "$f" >"$out" 2>&1; rc=$?
	is "$rc" 1 "$name is refused with exit 1"
	grep '^# expect: ' "$f" | sed 's/^# expect: //' | while IFS= read -r want; do
		grep -qF "$want" "$out"
		ok $? "$name: error '$want'"
		[ $? -eq 0 ] || sed 's/^/#   output: /' "$out"
	done
done

"$bartd" -n -c "$dir/does-not-exist.yaml" >"$out" 2>&1; rc=$?
is "$rc" 1 "a missing configuration file is refused"
grep -q "does-not-exist.yaml: No such file" "$out"; ok $? "and the error names the file"

printf 'state_dir: [\n' > "$out.yaml"
"$bartd" -n -c "$out.yaml" >"$out" 2>&1; rc=$?
is "$rc" 1 "broken YAML is refused"
rm -f "$out.yaml"
done_testing
