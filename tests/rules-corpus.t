#!/bin/sh
# The default rule set against labelled messages.
#
# Held out (never tuned on): the files of tests/corpus/held-out.list.
# Issue 4's targets on them are forwarded-or-not precision and recall
# >= 0.95, spoed recall >= 0.95 with spoed precision >= 0.85, category right
# for >= 90% of the forwarded. They are met, and checked: a change to the
# rules or the word model that drops a figure below its target fails.
# The tuning messages must keep meeting the targets (regression).
. "${top_srcdir:-.}/tests/lib/tap.sh"
ctl="$top_builddir/src/bartctl"
c="$top_srcdir/tests/corpus"
work=$(mktemp -d)
trap 'rm -rf "$work" "$tap_dir"' EXIT

# at_least GOT WANT: exit 0 if GOT >= WANT
at_least() {
	awk -v g="$1" -v w="$2" 'BEGIN { exit !(g != "" && g + 0 >= w + 0) }'
}

# heldout NAME FP FR SP SR CA FILE...: issue 4's targets on the held-out
# FILEs (bartctl rules test --require-targets), then each figure against
# its bound, to show which one fell short (FP, FR: forwarded precision and
# recall; SP, SR: spoed; CA: category correct).
heldout() {
	name=$1 fpw=$2 frw=$3 spw=$4 srw=$5 caw=$6
	shift 6
	cat "$@" >"$work/heldout.tsv"
	"$ctl" rules test --require-targets "$top_srcdir/rules" "$work/heldout.tsv" \
	    >"$work/out" 2>&1
	rc=$?
	n=$(($(cat "$tap_dir/n") + 1)); echo $n >"$tap_dir/n"
	if [ $rc -eq 0 ]; then
		echo "ok $n - $name: held-out messages meet issue 4's targets"
	else
		echo "not ok $n - $name: held-out messages meet issue 4's targets"
	fi
	sed -n '/^labelled/,/^category correct/p;/^targets/p' "$work/out" | sed 's/^/# /'
	fp=$(sed -n 's/^forwarded precision \([0-9.]*\) recall.*/\1/p' "$work/out")
	fr=$(sed -n 's/^forwarded precision [0-9.]* recall \([0-9.]*\).*/\1/p' "$work/out")
	sp=$(sed -n 's/^spoed precision \([0-9.]*\) recall.*/\1/p' "$work/out")
	sr=$(sed -n 's/^spoed precision [0-9.]* recall \([0-9.]*\).*/\1/p' "$work/out")
	ca=$(sed -n 's/^category correct \([0-9.]*\) of.*/\1/p' "$work/out")
	at_least "$fp" "$fpw"; ok $? "$name: forwarded precision $fp >= $fpw"
	at_least "$fr" "$frw"; ok $? "$name: forwarded recall $fr >= $frw"
	at_least "$sp" "$spw"; ok $? "$name: spoed precision $sp >= $spw"
	at_least "$sr" "$srw"; ok $? "$name: spoed recall $sr >= $srw"
	at_least "$ca" "$caw"; ok $? "$name: category correct $ca >= $caw"
}

# The held-out files (tests/corpus/held-out.list), all together:
# heldout9 + heldout10, 400 messages by two writers who never saw the
# rules, measured once after tuning round 4 (2026-11-23): forwarded
# precision 0.978 recall 0.978, spoed precision 0.925 recall 0.974,
# category 0.935 of 230 (rules alone, without the word model:
# 0.959/0.917, 0.886/0.921, 0.843). Earlier rounds, each on a fresh set:
# heldout5+6 0.898/0.914, 0.814/0.909, 0.841 (rules alone); heldout7+8
# 0.939/1.000, 0.845/0.947, 0.930 (first rules + word model).
heldout "held-out" 0.95 0.95 0.85 0.95 0.90 $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' \
    -e "s|^|$c/|" "$c/held-out.list")

# Every other file is for tuning (dev.tsv is split into dev-tune.tsv and
# dev-heldout.tsv); the rules must keep meeting the targets on them.
: >"$work/tune.tsv"
tuning=
for f in "$c"/*.tsv; do
	b=${f##*/}
	[ "$b" = dev.tsv ] && continue
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$c/held-out.list" | grep -qx "$b" && continue
	cat "$f" >>"$work/tune.tsv"
	tuning="$tuning $f"
done
"$ctl" rules test --require-targets "$top_srcdir/rules" "$work/tune.tsv" \
    >"$work/out2" 2>&1
ok $? "tuning messages meet the targets"
grep -E '^(labelled|forwarded|spoed|category correct)' "$work/out2" | sed 's/^/# tuning: /'

# The word model (rules/woordmodel.tsv) is learned from the tuning files
# and nothing else: `bartctl rules learn` on them gives the same file.
mkdir "$work/rules"
cp "$top_srcdir"/rules/*.yaml "$top_srcdir"/rules/abbreviations.txt \
    "$top_srcdir"/rules/woordmodel.tsv "$work/rules/"
# shellcheck disable=SC2086
"$ctl" rules learn "$work/rules" $tuning >"$work/learn.out" 2>&1
ok $? "bartctl rules learn on the tuning files"
cmp -s "$work/rules/woordmodel.tsv" "$top_srcdir/rules/woordmodel.tsv"
ok $? "rules/woordmodel.tsv is the model of the tuning files (relearn it after changing them)"

# --json: one object a message, in input order, line numbers of FILE
printf '# comment\n\nEr is nu brand in de schuur!\nhallo allemaal\ngeen\t-\tDank je wel\n' \
    >"$work/j.txt"
"$ctl" rules test --json "$top_srcdir/tests/rules-fixture" "$work/j.txt" >"$work/j.out" \
    2>"$work/j.err"
is "$?" 0 "rules test --json exits 0"
is "$(wc -l <"$work/j.out" | tr -d ' ')" 3 "one line a message; comments and blank lines skipped"
is "$(sed -n 1p "$work/j.out")" \
    '{"line":3,"category":"brand","urgency":"spoed","rules":["brand-nu"]}' \
    "a decision as JSON with the line number in FILE"
is "$(sed -n 2p "$work/j.out")" \
    '{"line":4,"category":null,"urgency":null,"rules":[]}' \
    "no decision: nulls and no rules"
is "$(sed -n 3p "$work/j.out")" \
    '{"line":5,"category":null,"urgency":null,"rules":[]}' \
    "a labelled line is decided on its text"
grep -q "^forwarded precision" "$work/j.err"
ok $? "with --json the labelled summary goes to stderr"
done_testing
