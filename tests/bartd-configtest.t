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

# The commented example in contrib/ stays valid (its secrets made here).
tmp=$(mktemp -d)
for f in hmac.key xmpp.pass matrix.token meldkamer.secret; do
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/$f"
done
sed -e "s|/etc/bart/rules|$top_srcdir/rules|" -e "s|/etc/bart/|$tmp/|" \
    -e "s|/var/lib/bart|$tmp/state|" "$top_srcdir/contrib/bart.yaml" \
    > "$tmp/bart.yaml"
"$bartd" -n -c "$tmp/bart.yaml" >"$out" 2>&1; rc=$?
is "$rc" 0 "contrib/bart.yaml is a valid configuration"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$out"
rm -rf "$tmp"

printf 'state_dir: [\n' > "$out.yaml"
"$bartd" -n -c "$out.yaml" >"$out" 2>&1; rc=$?
is "$rc" 1 "broken YAML is refused"
rm -f "$out.yaml"
done_testing
