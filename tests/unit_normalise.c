/* unit_normalise.c: the normaliser: NFKC, case folding, accents,
 * invisible characters, letter runs, abbreviations, the offset map back
 * to the original text, and bad input. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "normalise.h"
#include "tap.h"
#include "util.h"

static char *
norm(const struct abbrev *ab, const char *s)
{
	return normalise_str(ab, s);
}

static void
check(const struct abbrev *ab, const char *in, const char *want,
    const char *what)
{
	char *got = norm(ab, in);

	is_str(got, want, "%s", what);
	free(got);
}

/* Original text of the normalised stretch that starts where needle
 * occurs in the normalised text. Caller frees. */
static char *
orig_of(struct normtext *nt, const char *in, const char *needle)
{
	const char *p = strstr(nt->text, needle);
	size_t os, oe;

	if (p == NULL)
		return xstrdup("(not found)");
	norm_orig_span(nt, (size_t)(p - nt->text),
	    (size_t)(p - nt->text) + strlen(needle), &os, &oe);
	return xstrndup(in + os, oe - os);
}

int
main(void)
{
	struct abbrev *ab = abbrev_new();
	struct normtext nt;
	const char *err;
	char *s, *big;
	clock_t t0;

	ok(abbrev_add(ab, "ff", "even", &err) == 0, "add abbreviation ff");
	ok(abbrev_add(ab, "zsm", "zo snel mogelijk", &err) == 0,
	    "add abbreviation zsm");
	ok(abbrev_add(ab, "FF", "x", &err) == -1, "duplicate abbreviation "
	    "(after case folding) refused: %s", err ? err : "");
	ok(abbrev_add(ab, "twee woorden", "x", &err) == -1,
	    "abbreviation of two words refused");

	check(NULL, "Inbraak BEZIG", "inbraak bezig", "case folded");
	check(NULL, "Café Één Ürsula naïef", "cafe een ursula naief",
	    "accents stripped");
	check(NULL, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 \xef\xac\x81" "ets",
	    "abc fiets", "NFKC: full-width letters and the fi ligature");
	check(NULL, "in\xe2\x80\x8b" "bra\xc2\xad" "ak", "inbraak",
	    "zero-width space and soft hyphen removed");
	check(NULL, "stra\xc3\x9f" "e", "strasse", "sharp s folds to ss");
	check(NULL, "heeeeel snellll hallo", "heel snel hallo",
	    "runs of 3+ letters: vowels keep two, consonants one; pairs stay");
	check(NULL, "112!!!  en\t\tdan", "112!!! en dan",
	    "punctuation kept, white space runs become one space");
	check(ab, "ff kijken, ZSM!", "even kijken, zo snel mogelijk!",
	    "abbreviations expanded as whole words");
	check(ab, "ffs staff", "ffs staff", "abbreviations only as whole words");
	check(NULL, "\xe2\x80\x9cquote\xe2\x80\x9d \xe2\x80\x93 it\xe2\x80\x99s",
	    "\"quote\" - it's", "typographic punctuation lumped to ASCII");

	normtext_init(&nt);
	normalise(ab, "Ze zijn NUUUU aan het INBREKENNN bij nr 12 \xf0\x9f\x98\xb1",
	    strlen("Ze zijn NUUUU aan het INBREKENNN bij nr 12 \xf0\x9f\x98\xb1"),
	    &nt);
	s = orig_of(&nt, "Ze zijn NUUUU aan het INBREKENNN bij nr 12 "
	    "\xf0\x9f\x98\xb1", "inbreken");
	is_str(s, "INBREKENNN", "span of a collapsed word covers the whole "
	    "original run");
	free(s);
	s = orig_of(&nt, "Ze zijn NUUUU aan het INBREKENNN bij nr 12 "
	    "\xf0\x9f\x98\xb1", "nuu");
	is_str(s, "NUUUU", "span of a collapsed vowel run");
	free(s);

	normalise(ab, "ff zsm komen", 12, &nt);
	s = orig_of(&nt, "ff zsm komen", "zo snel mogelijk");
	is_str(s, "zsm", "span of an expansion is the abbreviation");
	free(s);

	normalise(NULL, "auto-inbraak, AUTO INBRAAK", 26, &nt);
	is_str(nt.compact, "autoinbraakautoinbraak",
	    "compact text holds only word characters");
	ok(nt.cbound[4] == NC_SOFT && nt.cbound[11] == NC_HARD &&
	    nt.cbound[15] == NC_SOFT && nt.cbound[0] == NC_HARD &&
	    nt.cbound[nt.clen] == NC_HARD,
	    "separators: hyphen and space soft, comma and the ends hard");
	ok(nt.nwords == 4, "four words counted (%zu)", nt.nwords);
	ok(nt.ncword == 4 && nt.cword[0] == 0 && nt.cword[1] == 4 &&
	    nt.cword[2] == 11 && nt.cword[3] == 15,
	    "word starts in the compact text");

	/* invalid UTF-8 */
	normalise(NULL, "\xff\xfe" "abc\xc3" "\x28 \xed\xa0\x80 x\x00y", 15, &nt);
	ok(utf8_valid(nt.text, nt.len), "invalid UTF-8 in, valid UTF-8 out");
	ok(strstr(nt.text, "abc") != NULL && strstr(nt.text, "\xef\xbf\xbd"),
	    "bad bytes become U+FFFD, the rest survives: %s", nt.text);
	ok(memchr(nt.text, '\0', nt.len) == NULL, "NUL bytes do not survive");
	for (size_t i = 0; i < nt.len; i++)
		if (nt.oend[i] > 15 || nt.ostart[i] >= nt.oend[i]) {
			ok(0, "offset map inside the original at byte %zu", i);
			break;
		}
	ok(1, "offset map stays inside the original");

	/* a 1 MB message */
	big = xmalloc(1024 * 1024);
	for (size_t i = 0; i < 1024 * 1024; i++)
		big[i] = "ab\xc3\xa9 "[i % 5];
	t0 = clock();
	normalise(ab, big, 1024 * 1024, &nt);
	ok(nt.inlen <= NORM_MAX_INPUT && nt.len <= NORM_MAX_OUTPUT,
	    "1 MB message: only the first %d bytes are looked at (%zu)",
	    NORM_MAX_INPUT, nt.inlen);
	ok(utf8_valid(nt.text, nt.len), "1 MB message: output still valid "
	    "UTF-8 (no sequence cut in two)");
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0,
	    "1 MB message normalised in %.3f s",
	    (double)(clock() - t0) / CLOCKS_PER_SEC);
	free(big);

	normtext_free(&nt);
	abbrev_free(ab);
	return done_testing();
}
