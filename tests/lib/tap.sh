# tap.sh: TAP helpers for shell tests. Counts in files so that checks
# inside pipelines and subshells count too.
tap_dir=$(mktemp -d)
echo 0 > "$tap_dir/n"; echo 0 > "$tap_dir/failed"
trap 'rm -rf "$tap_dir"' EXIT
ok() {
	n=$(($(cat "$tap_dir/n") + 1)); echo $n > "$tap_dir/n"
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		echo $(($(cat "$tap_dir/failed") + 1)) > "$tap_dir/failed"
	fi
	return "$1"
}
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got: '$1'"; echo "#   want: '$2'"; return 1
	fi
}
done_testing() {
	echo "1..$(cat "$tap_dir/n")"
	[ "$(cat "$tap_dir/failed")" -eq 0 ]
}
