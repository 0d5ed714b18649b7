/* unit_rules.c: the rule language and the matcher: keywords as whole
 * words with compounds, regexes, all/any/not/at-least/within, scores and
 * threshold, testing status, cues, lists and fragments, spans in the
 * original text, errors with file:line:col, bounded cost on hostile
 * regexes and input, and several threads on one rule set. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "normalise.h"
#include "rules.h"
#include "rules_model.h"
#include "tap.h"
#include "util.h"

static char tmpl[64];

static void
put(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpl, name);
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	free(path);
}

static void
clear_dir(void)
{
	char *cmd = xasprintf("rm -f %s/*", tmpl);

	if (system(cmd) != 0)
		exit(1);
	free(cmd);
}

/* Loads tmpl; the diagnostics joined with '\n' into *errs (caller frees). */
static struct ruleset *
load(char **errs)
{
	struct diag d = { 0 };
	struct ruleset *rs = ruleset_load(tmpl, &d);
	struct buf b = { 0 };

	for (size_t i = 0; i < d.n; i++)
		buf_printf(&b, "%s\n", d.msgs[i] + strlen(tmpl) + 1);
	buf_puts(&b, "");
	if (errs)
		*errs = buf_steal(&b);
	else {
		if (b.len)
			printf("# %s", b.data);
		buf_free(&b);
	}
	diag_free(&d);
	return rs;
}

/* "category/urgency [ids]" of text; caller frees. */
static char *
dec(const struct ruleset *rs, const char *text)
{
	struct decision d;
	struct buf b = { 0 };

	if (ruleset_decide(rs, text, strlen(text), &d) == -1)
		return xstrdup("error");
	buf_printf(&b, "%s/%s", d.category ? d.category : "-",
	    d.category ? urgency_name(d.urgency) : "-");
	for (size_t i = 0; i < d.nhits; i++)
		buf_printf(&b, "%s%s%s", i ? "," : " ", d.hits[i].id,
		    d.hits[i].testing ? "(t)" : "");
	decision_clear(&d);
	return buf_steal(&b);
}

#define DEC(rs, text, want, ...) do {					\
	char *dec_g_ = dec(rs, text);					\
	is_str(dec_g_, want, __VA_ARGS__);				\
	free(dec_g_);							\
} while (0)

static void
test_keywords(void)
{
	struct ruleset *rs;
	struct decision d;
	const char *t;

	clear_dir();
	put("a.yaml",
	    "- id: autoinbraak\n"
	    "  category: inbraak\n"
	    "  keywords: [\"auto inbraak\"]\n"
	    "- id: compound\n"
	    "  category: diefstal\n"
	    "  keywords: [\"*diefstal\", \"fiets*\"]\n"
	    "  unless: [fietsenmaker, \"geen diefstal\"]\n"
	    "- id: brand\n"
	    "  category: brand\n"
	    "  urgency: spoed\n"
	    "  keywords: [brand, \"auto's\"]\n");
	rs = load(NULL);
	ok(rs != NULL, "keyword rules load");
	if (rs == NULL)
		return;
	DEC(rs, "een auto-inbraak", "inbraak/normaal autoinbraak",
	    "\"auto inbraak\" matches auto-inbraak");
	DEC(rs, "weer een AUTOINBRAAK", "inbraak/normaal autoinbraak",
	    "... and autoinbraak");
	DEC(rs, "auto  inbraak", "inbraak/normaal autoinbraak",
	    "... and auto  inbraak");
	DEC(rs, "mijn auto, inbraak", "-/-", "... but not across a comma");
	DEC(rs, "de autoinbraakpreventie", "-/-", "... nor inside a longer word");
	DEC(rs, "woningdiefstal gemeld", "diefstal/normaal compound",
	    "*diefstal matches inside a compound");
	DEC(rs, "fietsendieven", "diefstal/normaal compound",
	    "fiets* matches at the start of a word");
	DEC(rs, "de fietsenmaker", "-/-", "an exception (unless) blocks");
	DEC(rs, "de brandweer kwam", "-/-", "brand is a whole word: not in "
	    "brandweer");
	DEC(rs, "BRAND!!", "brand/spoed brand", "brand matches BRAND!!");
	DEC(rs, "bränd", "brand/spoed brand", "accents do not matter");
	DEC(rs, "twee autos", "brand/spoed brand",
	    "a keyword with an apostrophe matches without it");

	t = "Er is BRAND bij nr 12";
	ruleset_decide(rs, t, strlen(t), &d);
	ok(d.nhits == 1 && d.hits[0].nspans == 1 &&
	    d.hits[0].spans[0].start == 6 && d.hits[0].spans[0].end == 11,
	    "span is in the original text");
	decision_clear(&d);
	t = "\xc3\x89\xc3\xa9n BR\xc3\x82ND";
	ruleset_decide(rs, t, strlen(t), &d);
	ok(d.nhits == 1 && d.hits[0].nspans == 1 &&
	    d.hits[0].spans[0].start == 6 && d.hits[0].spans[0].end == 12,
	    "span in the original text after accented letters");
	decision_clear(&d);
	ruleset_free(rs);
}

/* The forms a keyword takes in the word index: whole words, joins of
 * words, prefixes, suffixes, infixes, and words of several bytes a
 * letter. */
static void
test_word_forms(void)
{
	struct ruleset *rs;
	struct decision d;
	struct buf b = { 0 };
	const char *t;

	clear_dir();
	put("w.yaml",
	    "- id: exact\n"
	    "  category: brand\n"
	    "  keywords: [rookmelder]\n"
	    "- id: three\n"
	    "  category: verkeer\n"
	    "  keywords: [\"groot licht aan\"]\n"
	    "- id: joined\n"
	    "  category: inbraak\n"
	    "  keywords: [\"auto inbraak\"]\n"
	    "- id: solid\n"
	    "  category: inbraak\n"
	    "  keywords: [autoinbraak]\n"
	    "- id: suffix\n"
	    "  category: diefstal\n"
	    "  keywords: [\"*diefstal\", \"*fiets slot\"]\n"
	    "- id: prefix\n"
	    "  category: vandalisme\n"
	    "  keywords: [\"graffiti*\", \"bus hokje*\"]\n"
	    "- id: infix\n"
	    "  category: overlast\n"
	    "  keywords: [\"*lachgas*\"]\n"
	    "- id: utf8\n"
	    "  category: sociaal\n"
	    "  keywords: [\"\xc3\xa9\xc3\xa9n caf\xc3\xa9\", \"*stra\xc3\x9f" "e\","
	    " \"\xce\xbb\xce\xbf\xce\xb3\xce\xbf\xcf\x82*\"]\n");
	rs = load(NULL);
	ok(rs != NULL, "word form rules load");
	if (rs == NULL)
		return;
	DEC(rs, "de ROOKMELDER piept!", "brand/normaal exact",
	    "a whole word, any case, before punctuation");
	DEC(rs, "rookmelders", "-/-", "a whole word: not a longer word");
	DEC(rs, "de rookmelder", "brand/normaal exact", "... at the end");
	DEC(rs, "groot licht aan", "verkeer/normaal three",
	    "three words");
	DEC(rs, "grootlicht-aan", "verkeer/normaal three",
	    "three words as two");
	DEC(rs, "groot lichtaan", "verkeer/normaal three",
	    "... joined the other way");
	DEC(rs, "grootlichtaan", "verkeer/normaal three", "... as one");
	DEC(rs, "groot licht", "-/-", "not the first words alone");
	DEC(rs, "groot licht. aan", "-/-", "not across a full stop");
	DEC(rs, "met groot  licht_aan/uit", "verkeer/normaal three",
	    "spaces, underscores and slashes are soft separators");
	DEC(rs, "auto inbraak", "inbraak/normaal joined",
	    "a space in a keyword matches a space...");
	DEC(rs, "autoinbraak", "inbraak/normaal joined,solid",
	    "... or none (and the keyword without a space only that)");
	DEC(rs, "auto\xe2\x80\x94inbraak", "inbraak/normaal joined",
	    "... or a dash");
	DEC(rs, "oldtimerauto inbraak", "-/-",
	    "a keyword without * starts at a word start");
	DEC(rs, "woningdiefstal", "diefstal/normaal suffix",
	    "*kw at the end of a compound");
	DEC(rs, "Diefstal", "diefstal/normaal suffix", "... or the whole word");
	DEC(rs, "woning-diefstal", "diefstal/normaal suffix",
	    "... or after a hyphen");
	DEC(rs, "diefstallen", "-/-", "*kw ends at a word end");
	DEC(rs, "het racefietsslot", "diefstal/normaal suffix",
	    "*kw with a space, joined");
	DEC(rs, "het racefiets slot", "diefstal/normaal suffix",
	    "*kw with a space, apart");
	DEC(rs, "race fietsslot", "diefstal/normaal suffix",
	    "*kw starting at a word start");
	DEC(rs, "fietsslotje", "-/-", "... but ending at a word end");
	DEC(rs, "graffitispuiters", "vandalisme/normaal prefix",
	    "kw* at the start of a word");
	DEC(rs, "anti-graffiti", "vandalisme/normaal prefix",
	    "... after a hyphen");
	DEC(rs, "antigraffiti", "-/-", "kw* starts at a word start");
	DEC(rs, "een bushokjesruit", "vandalisme/normaal prefix",
	    "kw* with a space, joined");
	DEC(rs, "een bus hokjes", "vandalisme/normaal prefix",
	    "kw* with a space, apart");
	DEC(rs, "stadsbus hokje", "-/-", "... but from a word start");
	DEC(rs, "veel lachgaspatronen", "overlast/normaal infix",
	    "*kw* inside a word");
	DEC(rs, "slagroomlachgas", "overlast/normaal infix", "... at its end");
	DEC(rs, "\xc3\x89\xc3\x89N-CAF\xc3\x89", "sociaal/normaal utf8",
	    "accented letters of several bytes, upper case, hyphen");
	DEC(rs, "een cafe", "sociaal/normaal utf8", "... accents stripped");
	DEC(rs, "Hauptstrasse", "sociaal/normaal utf8",
	    "*kw with a sharp s in the keyword");
	DEC(rs, "\xce\x9b\xce\x9f\xce\x93\xce\x9f\xce\xa3\xce\xa4\xce\x99",
	    "sociaal/normaal utf8", "kw* over Greek letters, final sigma");
	DEC(rs, "\xce\xb1\xce\xbb\xce\xbf\xce\xb3\xce\xbf\xcf\x82", "-/-",
	    "... from a word start only");

	/* every occurrence, in order, up to eight a keyword */
	for (int i = 0; i < 10; i++)
		buf_puts(&b, "auto-inbraak ");
	t = b.data;
	ruleset_decide(rs, t, strlen(t), &d);
	ok(d.nhits == 1 && d.hits[0].nspans == 8 &&
	    d.hits[0].spans[0].start == 0 && d.hits[0].spans[0].end == 12 &&
	    d.hits[0].spans[7].start == 91 && d.hits[0].spans[7].end == 103,
	    "the first eight occurrences are the spans");
	decision_clear(&d);
	buf_free(&b);
	t = "Zag een auto  inbraak, een woningdiefstal";
	ruleset_decide(rs, t, strlen(t), &d);
	ok(d.nhits == 2 && d.hits[0].nspans == 1 &&
	    d.hits[0].spans[0].start == 8 && d.hits[0].spans[0].end == 21 &&
	    d.hits[1].nspans == 1 && d.hits[1].spans[0].start == 33 &&
	    d.hits[1].spans[0].end == 41,
	    "spans of words joined and of a suffix in the original text");
	decision_clear(&d);
	ruleset_free(rs);
}

static void
test_conditions(void)
{
	struct ruleset *rs;

	clear_dir();
	put("c.yaml",
	    "- settings: {threshold: 4}\n"
	    "- list: nu\n"
	    "  keywords: [nu, \"op dit moment\"]\n"
	    "- fragment: wapen\n"
	    "  any: [mes, pistool, \"/\\\\bknuppel(s)?\\\\b/\"]\n"
	    "- id: half-a\n"
	    "  category: geweld\n"
	    "  score: 2\n"
	    "  keywords: [ruzie]\n"
	    "- id: half-b\n"
	    "  category: geweld\n"
	    "  score: 2\n"
	    "  keywords: [\"@wapen\"]\n"
	    "- id: two-of-three\n"
	    "  category: verdacht\n"
	    "  score: 4\n"
	    "  at-least: {n: 2, of: [zaklamp, capuchon, tuinen]}\n"
	    "- id: near\n"
	    "  category: diefstal\n"
	    "  score: 4\n"
	    "  within: {words: 3, of: [fiets, gestolen]}\n"
	    "- id: all-not\n"
	    "  category: brand\n"
	    "  score: 4\n"
	    "  all: [rook, \"@nu\"]\n"
	    "  not: [sigaret]\n"
	    "- id: testing-rule\n"
	    "  category: vermist\n"
	    "  score: 9\n"
	    "  status: testing\n"
	    "  keywords: [kwijt]\n");
	rs = load(NULL);
	ok(rs != NULL, "condition rules load");
	if (rs == NULL)
		return;
	DEC(rs, "ruzie op straat", "-/- half-a", "one rule of score 2 stays below "
	    "threshold 4");
	DEC(rs, "ruzie met een KNUPPEL", "geweld/normaal half-a,half-b",
	    "two rules of one category add up to the threshold");
	DEC(rs, "iemand met een zaklamp", "-/-", "at-least 2: one is not enough");
	DEC(rs, "capuchon op en een zaklamp", "verdacht/normaal two-of-three",
	    "at-least 2 of 3");
	DEC(rs, "mijn fiets is vannacht gestolen", "diefstal/normaal near",
	    "within 3 words");
	DEC(rs, "mijn fiets stond bij de school en toen is mijn tas gestolen",
	    "-/-", "not within 3 words");
	DEC(rs, "rook op dit moment", "brand/normaal all-not",
	    "all: every item must match (through a list)");
	DEC(rs, "rook", "-/-", "all: one missing");
	DEC(rs, "nu rook van een sigaret", "-/-", "not: blocks");
	DEC(rs, "sleutels kwijt", "-/- testing-rule(t)",
	    "a testing rule fires and is reported but decides nothing");
	ruleset_free(rs);
}

/* A list or fragment that many rules refer to is evaluated once a
 * message; its value must not leak into the next message. */
static void
test_shared(void)
{
	struct ruleset *rs;

	clear_dir();
	put("s.yaml",
	    "- list: nu\n"
	    "  keywords: [nu, \"op dit moment\", \"/\\\\bzojuist\\\\b/\"]\n"
	    "- fragment: bezig\n"
	    "  any: [\"@nu\", \"/\\\\bbezig\\\\b/\"]\n"
	    "  unless: [gisteren]\n"
	    "- id: inbraak\n"
	    "  category: inbraak\n"
	    "  keywords: [inbraak]\n"
	    "  all: [\"@bezig\"]\n"
	    "- id: brand\n"
	    "  category: brand\n"
	    "  keywords: [brand]\n"
	    "  all: [\"@bezig\"]\n"
	    "- id: ruzie\n"
	    "  category: geweld\n"
	    "  keywords: [ruzie]\n"
	    "  unless: [\"@nu\"]\n"
	    "- cue: spoed\n"
	    "  raise: spoed\n"
	    "  all: [\"@nu\"]\n");
	rs = load(NULL);
	ok(rs != NULL, "shared list and fragment load");
	if (rs == NULL)
		return;
	DEC(rs, "inbraak en brand, nu", "inbraak/spoed inbraak,brand",
	    "a list true for two rules and a cue");
	DEC(rs, "inbraak en brand", "-/-", "... and false in the next message");
	DEC(rs, "brand zojuist, ruzie", "brand/spoed brand",
	    "a regex in a list, through a fragment and an unless");
	DEC(rs, "ruzie op straat", "geweld/normaal ruzie",
	    "... false again for the unless");
	DEC(rs, "inbraak, nog bezig", "inbraak/normaal inbraak",
	    "a fragment true without the list");
	DEC(rs, "inbraak gisteren, nu bezig", "-/-",
	    "a fragment's unless");
	ruleset_free(rs);
}

/* Long keyword lists are counted as their keywords match instead of
 * being walked; the other items are still evaluated in order. */
static void
test_long_lists(void)
{
	struct ruleset *rs;

	clear_dir();
	put("l.yaml",
	    "- list: veel\n"
	    "  keywords: [aap, noot, mies, wim, zus, jet, teun, vuur, gijs,"
	    " \"/\\\\bkees\\\\b/\"]\n"
	    "- id: any\n"
	    "  category: brand\n"
	    "  keywords: [\"@veel\"]\n"
	    "- id: two\n"
	    "  category: diefstal\n"
	    "  at-least: {n: 2, of: [lam, kip, koe, geit, paard, ezel, hond,"
	    " kat, kip, \"@veel\", \"/\\\\bmuis\\\\b/\"]}\n"
	    "- id: none\n"
	    "  category: overlast\n"
	    "  keywords: [herrie]\n"
	    "  unless: [een, twee, drie, vier, vijf, zes, zeven, acht,"
	    " \"/\\\\bnegen\\\\b/\"]\n");
	rs = load(NULL);
	ok(rs != NULL, "long lists load");
	if (rs == NULL)
		return;
	DEC(rs, "de teun", "brand/normaal any", "any: a keyword of a long list");
	DEC(rs, "kees", "brand/normaal any", "any: the regex of a long list");
	DEC(rs, "niks", "-/-", "any: nothing");
	DEC(rs, "een lam", "-/-", "at-least 2: one keyword is not enough...");
	DEC(rs, "een lam, een lam", "-/-", "... even twice in the message");
	DEC(rs, "een kip", "diefstal/normaal two",
	    "... but one listed twice counts twice");
	DEC(rs, "lam en geit", "diefstal/normaal two", "... two are");
	DEC(rs, "hond en muis", "diefstal/normaal two",
	    "... a keyword and a regex");
	DEC(rs, "paard en vuur", "diefstal/normaal any,two",
	    "... a keyword and a list");
	DEC(rs, "herrie", "overlast/normaal none", "unless over a long list");
	DEC(rs, "herrie om zeven", "-/-", "... blocked by a keyword");
	DEC(rs, "herrie om negen", "-/-", "... blocked by its regex");
	DEC(rs, "herrie", "overlast/normaal none", "... and not the next time");
	ruleset_free(rs);
}

static void
test_cues(void)
{
	struct ruleset *rs;

	clear_dir();
	put("c.yaml",
	    "- id: inbraak\n"
	    "  category: inbraak\n"
	    "  keywords: [ingebroken, inbreken]\n"
	    "- id: lamp\n"
	    "  category: openbare-ruimte\n"
	    "  keywords: [lantaarnpaal]\n"
	    "- cue: nu\n"
	    "  raise: spoed\n"
	    "  categories: [inbraak]\n"
	    "  keywords: [nu]\n"
	    "- cue: gisteren\n"
	    "  lower: normaal\n"
	    "  keywords: [gisteren]\n"
	    "- cue: loos\n"
	    "  lower: info\n"
	    "  keywords: [\"loos alarm\"]\n");
	rs = load(NULL);
	ok(rs != NULL, "cue rules load");
	if (rs == NULL)
		return;
	DEC(rs, "er is ingebroken", "inbraak/normaal inbraak", "no cue");
	DEC(rs, "ze zijn nu aan het inbreken", "inbraak/spoed inbraak",
	    "a cue raises urgency");
	DEC(rs, "lantaarnpaal nu kapot", "openbare-ruimte/normaal lamp",
	    "a cue only for the categories it names");
	DEC(rs, "loos alarm, niet ingebroken nu", "inbraak/info inbraak",
	    "lower to info wins over raise");
	DEC(rs, "gisteren ingebroken", "inbraak/normaal inbraak", "lower");
	ok(ruleset_count(rs) == 2, "cues are not counted as rules");
	ruleset_free(rs);
}

static void
test_errors(void)
{
	struct ruleset *rs;
	char *errs;

	clear_dir();
	put("bad.yaml",
	    "- id: r1\n"
	    "  category: inbraak\n"
	    "  keywords: [inbraak]\n"
	    "  all: [\"/(unclosed/\"]\n"
	    "  colour: red\n"
	    "- id: r1\n"
	    "  category: nonsense\n"
	    "  keywords: [\"@nergens\", x]\n");
	rs = load(&errs);
	ok(rs == NULL, "a broken rule file does not load");
	ok(strstr(errs, "bad.yaml:4:20: bad regex: missing closing "
	    "parenthesis") != NULL, "broken regex reported at file:line:col");
	ok(strstr(errs, "bad.yaml:5:3: unknown key \"colour\"") != NULL,
	    "unknown key is an error at its position");
	ok(strstr(errs, "bad.yaml:6:7: duplicate id \"r1\"") != NULL,
	    "duplicate id");
	ok(strstr(errs, "bad.yaml:7:13: unknown category") != NULL,
	    "unknown category");
	ok(strstr(errs, "bad.yaml:8:14: unknown list or fragment "
	    "\"@nergens\"") != NULL, "unknown reference");
	ok(strstr(errs, "bad.yaml:8:26: keyword \"x\" is too short") != NULL,
	    "too short keyword");
	if (tap_failed)
		printf("# %s", errs);
	free(errs);

	/* rules compile as files are read; diagnostics keep their order */
	clear_dir();
	put("a.yaml",
	    "- id: vroeg\n"
	    "  category: brand\n"
	    "  keywords: [\"@later\", q]\n");
	put("b.yaml",
	    "- id: midden\n"
	    "  category: brand\n"
	    "  keywords: [w]\n");
	put("z.yaml",
	    "- list: later\n"
	    "  keywords: [rook]\n"
	    "- colour: red\n");
	rs = load(&errs);
	ok(rs == NULL && strcmp(errs, "z.yaml:3:3: an entry needs id, cue, "
	    "list, fragment or settings\n"
	    "a.yaml:3:24: keyword \"q\" is too short\n"
	    "b.yaml:3:14: keyword \"w\" is too short\n") == 0,
	    "reading's errors come before compiling's, each in file order");
	if (tap_failed)
		printf("# %s", errs);
	free(errs);
	put("z.yaml",
	    "- list: later\n"
	    "  keywords: [rook]\n");
	put("a.yaml",
	    "- id: vroeg\n"
	    "  category: brand\n"
	    "  keywords: [\"@later\"]\n");
	put("b.yaml",
	    "- id: midden\n"
	    "  category: brand\n"
	    "  keywords: [vuur]\n");
	rs = load(NULL);
	ok(rs != NULL, "a rule may refer to a list in a later file");
	if (rs != NULL) {
		DEC(rs, "rook en vuur", "brand/normaal vroeg,midden",
		    "... and both rules work, in file order");
		ruleset_free(rs);
	}

	clear_dir();
	put("loop.yaml",
	    "- fragment: a\n"
	    "  any: [\"@b\"]\n"
	    "- fragment: b\n"
	    "  any: [\"@a\", woord]\n"
	    "- id: r\n"
	    "  category: brand\n"
	    "  any: [\"@a\"]\n");
	rs = load(&errs);
	ok(rs == NULL && strstr(errs, "refers to itself") != NULL,
	    "a fragment cycle is an error");
	free(errs);
}

static void
test_hostile(void)
{
	struct ruleset *rs;
	struct diag d = { 0 };
	struct decision dc;
	char *big, *errs = NULL;
	clock_t t0;
	double secs;
	int r;

	clear_dir();
	put("cat.yaml",
	    "- id: slow\n"
	    "  category: overlast\n"
	    "  all: [\"/(a+)+b/\", \"/(x|xx)+y/\", \"/^(\\\\w+\\\\s?)*$/\"]\n"
	    "  examples: [\"aab xxy\"]\n");
	rs = load(&errs);
	ok(rs != NULL, "catastrophic regexes compile");
	free(errs);
	if (rs == NULL)
		return;
	big = xmalloc(1024 * 1024 + 1);
	memset(big, 'a', 1024 * 1024);
	big[1024 * 1024] = '\0';
	memcpy(big + 500, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!", 42);
	t0 = clock();
	r = ruleset_decide(rs, big, 1024 * 1024, &dc);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(r == 0 && dc.category == NULL, "1 MB of 'a' against catastrophic "
	    "regexes: no match");
	ok(secs < 5.0, "... in bounded time (%.2f s)", secs);
	decision_clear(&dc);
	t0 = clock();
	ok(ruleset_check(rs, &d) >= 1 && d.n > 0 &&
	    strstr(d.msgs[0], "backtracks catastrophically") != NULL,
	    "rules check reports the catastrophic regex: %s",
	    d.n ? d.msgs[0] + strlen(tmpl) + 1 : "");
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0,
	    "... in bounded time");
	diag_free(&d);
	ruleset_free(rs);
	free(big);
}

struct thr {
	const struct ruleset	*rs;
	int			 bad;
};

static void *
worker(void *arg)
{
	struct thr *t = arg;
	const char *texts[] = { "er is ingebroken", "ze zijn nu aan het "
	    "inbreken", "lantaarnpaal kapot", "hallo" };
	const char *want[] = { "inbraak/normaal inbraak",
	    "inbraak/spoed inbraak", "openbare-ruimte/normaal lamp", "-/-" };

	for (int i = 0; i < 2000; i++) {
		char *g = dec(t->rs, texts[i % 4]);
		if (strcmp(g, want[i % 4]) != 0)
			t->bad++;
		free(g);
	}
	return NULL;
}

static void
count_stat(void *arg, const char *id, const char *status, uint64_t hits)
{
	uint64_t *n = arg;

	(void)status;
	if (strcmp(id, "inbraak") == 0)
		*n = hits;
}

static void
test_threads(void)
{
	struct ruleset *rs;
	pthread_t th[4];
	struct thr t[4];
	int bad = 0;
	uint64_t n = 0;

	clear_dir();
	put("c.yaml",
	    "- id: inbraak\n"
	    "  category: inbraak\n"
	    "  keywords: [ingebroken, inbreken]\n"
	    "- id: lamp\n"
	    "  category: openbare-ruimte\n"
	    "  keywords: [lantaarnpaal]\n"
	    "  all: [\"/kapot|stuk/\"]\n"
	    "- cue: nu\n"
	    "  raise: spoed\n"
	    "  keywords: [nu]\n");
	if ((rs = load(NULL)) == NULL) {
		ok(0, "thread rules load");
		return;
	}
	for (int i = 0; i < 4; i++) {
		t[i].rs = rs;
		t[i].bad = 0;
		pthread_create(&th[i], NULL, worker, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	ok(bad == 0, "4 threads deciding on one rule set agree (%d wrong)",
	    bad);
	ruleset_foreach_stat(rs, count_stat, &n);
	is_int(n, 4000, "per-rule hit counter counts every thread");
	ruleset_free(rs);
}

static void
test_invalid_utf8(void)
{
	struct ruleset *rs;

	clear_dir();
	put("c.yaml",
	    "- id: inbraak\n"
	    "  category: inbraak\n"
	    "  keywords: [inbraak]\n"
	    "  all: [\"/\\\\bnu\\\\b/\"]\n");
	if ((rs = load(NULL)) == NULL) {
		ok(0, "rules load");
		return;
	}
	DEC(rs, "\xff inbraak\xc3 nu \xed\xa0\x80", "inbraak/normaal inbraak",
	    "invalid UTF-8 around the words does not stop matching");
	DEC(rs, "in\xc0\xaf" "braak nu", "-/-",
	    "an invalid sequence inside a word is a separator, not ignored");
	ruleset_free(rs);
}

/* The word model: learned from labelled messages, written, loaded with
 * the rules; it forwards what no rule reached, overrides a weaker rule
 * category, vetoes a rule that fires on chit-chat; bad files are errors
 * with file:line:col. */
static void
test_wordmodel(void)
{
	static const char *const inbraak[] = {
	    "er is ingebroken in de schuur", "vannacht ingebroken in onze schuur",
	    "schuur opengebroken en ingebroken", "bij nr 4 ingebroken via de schuur",
	    "ingebroken! de schuur staat open" };
	static const char *const brand[] = {
	    "brand in de keuken, veel rook", "rook uit het dak, brand",
	    "de schuur staat in brand", "brand bij de buren", "rook en vlammen" };
	static const char *const geen[] = {
	    "open dag bij de brandweer zaterdag", "de brandweer heeft open dag",
	    "goedemorgen allemaal", "wie komt er zaterdag naar de open dag",
	    "fijne dag allemaal", "bedankt voor de open dag bij de brandweer" };
	struct ruleset *rs;
	struct wm_learner *l;
	struct normtext nt;
	struct decision d;
	char *errs, *path, *text;
	FILE *fp;

	clear_dir();
	put("r.yaml",
	    "- settings: {model-forward: 1, model-override: 1, model-veto: 1}\n"
	    "- id: brand\n"
	    "  category: brand\n"
	    "  keywords: [brandweer, rook]\n"
	    "- id: schuur-brand\n"
	    "  category: brand\n"
	    "  keywords: [schuur]\n"
	    "  unless: [ingebroken]\n"
	    "- id: geen-boek\n"
	    "  category: inbraak\n"
	    "  score: -20\n"
	    "  keywords: [boek]\n");
	if ((rs = load(NULL)) == NULL) {
		ok(0, "rules load");
		return;
	}
	l = wm_learner_new();
	normtext_init(&nt);
	for (size_t i = 0; i < 5; i++) {
		ruleset_normalise(rs, inbraak[i], strlen(inbraak[i]), &nt);
		wm_learner_add(l, &nt, 0);
		ruleset_normalise(rs, brand[i], strlen(brand[i]), &nt);
		wm_learner_add(l, &nt, 4);
	}
	for (size_t i = 0; i < 6; i++) {
		ruleset_normalise(rs, geen[i], strlen(geen[i]), &nt);
		wm_learner_add(l, &nt, WM_GEEN);
	}
	normtext_free(&nt);
	ruleset_free(rs);
	path = xasprintf("%s/woordmodel.tsv", tmpl);
	fp = fopen(path, "w");
	ok(fp && wm_learner_write(l, fp, 2, "test") == 0, "model written");
	if (fp)
		fclose(fp);
	wm_learner_free(l);
	text = read_file(path, 1 << 20, NULL);
	ok(text && strstr(text, "\nmessages\t5 0 0 0 5 0 0 0 0 0 0 6\n"),
	    "messages per class, info and geen last");
	ok(text && strstr(text, "\ningebroken\tinbraak:5\n"),
	    "a word with the messages of each class that held it");
	ok(text && strstr(text, "\nopen dag\tgeen:4\n"),
	    "a pair of neighbouring words is a feature");
	ok(text && strstr(text, "\n*broken\tinbraak:5\n"),
	    "the end of a long word is a feature (compounds)");
	ok(text && strstr(text, "\ngoedemorgen\t") == NULL,
	    "a feature of one message is left out (--min 2)");
	free(text);
	if ((rs = load(NULL)) == NULL) {
		ok(0, "rules with the model load");
		free(path);
		return;
	}
	DEC(rs, "vannacht is er ingebroken bij de buren", "inbraak/normaal woordmodel",
	    "the model forwards a message no rule reached");
	DEC(rs, "ingebroken via de schuur", "inbraak/normaal woordmodel",
	    "... and takes another category when its words say so");
	DEC(rs, "zaterdag open dag bij de brandweer", "-/- brand",
	    "... and keeps chit-chat from a desk although a rule fired");
	DEC(rs, "veel rook bij de buren", "brand/normaal brand",
	    "... and leaves the rules' decision when it agrees");
	text = dec(rs, "in het boek is ingebroken");
	ok(strncmp(text, "inbraak/", 8) != 0 && strstr(text, "geen-boek"),
	    "... and never takes a category a rule vetoed (%s)", text);
	free(text);
	if (ruleset_decide(rs, "er is ingebroken", 16, &d) == 0) {
		ok(d.model == MODEL_FORWARDED && d.nhits == 1 &&
		    d.hits[0].nspans == 1 && d.hits[0].spans[0].start == 6 &&
		    d.hits[0].spans[0].end == 16, "its words are highlighted in "
		    "the original text (\"ingebroken\")");
		decision_clear(&d);
	}
	ruleset_free(rs);
	put("woordmodel.tsv", "classes\tinbraak diefstal verdacht geweld brand "
	    "overlast vandalisme verkeer openbare-ruimte sociaal vermist geen\n"
	    "messages\t1 1 1 1 1 1 1 1 1 1 1 1\n"
	    "brand\tbrand:1\n"
	    "rook\tbrand:7\n");
	rs = load(&errs);
	ok(rs == NULL, "a count above the messages of its class is an error");
	ok(strstr(errs, "woordmodel.tsv:4:6: expected class:count") != NULL,
	    "... at file:line:col");
	free(errs);
	ruleset_free(rs);
	put("woordmodel.tsv", "classes\tinbraak geen\n");
	rs = load(&errs);
	ok(rs == NULL && strstr(errs, "woordmodel.tsv:1:") != NULL &&
	    strstr(errs, "learn the model anew") != NULL,
	    "a model of other categories is an error that says what to do");
	free(errs);
	ruleset_free(rs);
	unlink(path);
	free(path);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(tmpl, sizeof(tmpl), "%s/bart-rules-XXXXXX", tmp);
	if (strlen(tmp) > 40 || mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_keywords();
	test_word_forms();
	test_conditions();
	test_shared();
	test_long_lists();
	test_cues();
	test_errors();
	test_hostile();
	test_threads();
	test_invalid_utf8();
	test_wordmodel();
	clear_dir();
	rmdir(tmpl);
	return done_testing();
}
