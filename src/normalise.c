/* normalise.c: chat text to the normalised form the rules match on,
 * with a map from every normalised byte back to the original text. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "normalise.h"

#define ABBREV_MAX_ENTRIES	4096

struct abbrev_ent {
	char	*word;
	size_t	 wlen;
	char	*exp;
	size_t	 elen;
};

struct abbrev {
	struct abbrev_ent	*tab;		/* open addressing */
	size_t			 size;		/* power of two */
	size_t			 n;
};

static uint32_t
hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Empty table; caller frees with abbrev_free. */
struct abbrev *
abbrev_new(void)
{
	struct abbrev *ab = xcalloc(1, sizeof(*ab));

	ab->size = 64;
	ab->tab = xcalloc(ab->size, sizeof(*ab->tab));
	return ab;
}

void
abbrev_free(struct abbrev *ab)
{
	if (ab == NULL)
		return;
	for (size_t i = 0; i < ab->size; i++) {
		free(ab->tab[i].word);
		free(ab->tab[i].exp);
	}
	free(ab->tab);
	free(ab);
}

size_t
abbrev_count(const struct abbrev *ab)
{
	return ab ? ab->n : 0;
}

static struct abbrev_ent *
abbrev_slot(const struct abbrev *ab, const char *w, size_t n)
{
	size_t i = hash_bytes(w, n) & (ab->size - 1);

	for (;;) {
		struct abbrev_ent *e = &ab->tab[i];
		if (e->word == NULL ||
		    (e->wlen == n && memcmp(e->word, w, n) == 0))
			return e;
		i = (i + 1) & (ab->size - 1);
	}
}

static const struct abbrev_ent *
abbrev_find(const struct abbrev *ab, const char *w, size_t n)
{
	const struct abbrev_ent *e;

	if (ab == NULL || ab->n == 0 || n == 0 || n > ABBREV_MAX_WORD)
		return NULL;
	e = abbrev_slot(ab, w, n);
	return e->word ? e : NULL;
}

static void
abbrev_grow(struct abbrev *ab)
{
	struct abbrev_ent *old = ab->tab;
	size_t oldsize = ab->size;

	ab->size *= 2;
	ab->tab = xcalloc(ab->size, sizeof(*ab->tab));
	for (size_t i = 0; i < oldsize; i++)
		if (old[i].word != NULL)
			*abbrev_slot(ab, old[i].word, old[i].wlen) = old[i];
	free(old);
}

int
abbrev_add(struct abbrev *ab, const char *word, const char *exp,
    const char **err)
{
	struct normtext nt;
	struct abbrev_ent *e;
	char *w, *x;

	normtext_init(&nt);
	normalise(NULL, word, strlen(word), &nt);
	w = xstrndup(nt.text, nt.len);
	normalise(NULL, exp, strlen(exp), &nt);
	x = xstrndup(nt.text, nt.len);
	normtext_free(&nt);
	*err = NULL;
	if (*w == '\0' || strlen(w) > ABBREV_MAX_WORD)
		*err = "abbreviation must be one word of at most 32 bytes";
	else {
		for (char *p = w; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || (*p & 0x80)))
				*err = "abbreviation must be a single word";
	}
	if (*err == NULL && (*x == '\0' || strlen(x) > ABBREV_MAX_EXP))
		*err = "expansion must be 1 to 128 bytes";
	if (*err == NULL && ab->n >= ABBREV_MAX_ENTRIES)
		*err = "too many abbreviations";
	if (*err == NULL && abbrev_find(ab, w, strlen(w)) != NULL)
		*err = "duplicate abbreviation";
	if (*err != NULL) {
		free(w);
		free(x);
		return -1;
	}
	if ((ab->n + 1) * 2 > ab->size)
		abbrev_grow(ab);
	e = abbrev_slot(ab, w, strlen(w));
	e->word = w;
	e->wlen = strlen(w);
	e->exp = x;
	e->elen = strlen(x);
	ab->n++;
	return 0;
}

int
abbrev_load(struct abbrev *ab, const char *path, struct diag *d)
{
	char *data, *line, *next;
	size_t len;
	int lineno = 0, bad = 0;
	const char *err;

	if ((data = read_file(path, 1024 * 1024, &len)) == NULL) {
		diag_error(d, path, 0, 0, "%s", strerror(errno));
		return -1;
	}
	if (!utf8_valid(data, len)) {
		diag_error(d, path, 0, 0, "not valid UTF-8");
		free(data);
		return -1;
	}
	for (line = data; line != NULL && *line != '\0'; line = next) {
		char *p, *word, *exp;

		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '#' || *p == '\0' || *p == '\r')
			continue;
		word = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p == '\0') {
			diag_error(d, path, lineno, (int)(word - line) + 1,
			    "expected \"word expansion\"");
			bad = 1;
			continue;
		}
		*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		exp = p;
		p = exp + strlen(exp);
		while (p > exp && (p[-1] == ' ' || p[-1] == '\t' ||
		    p[-1] == '\r'))
			*--p = '\0';
		if (abbrev_add(ab, word, exp, &err) == -1) {
			diag_error(d, path, lineno, (int)(word - line) + 1,
			    "%s: %s", word, err);
			bad = 1;
		}
	}
	free(data);
	return bad ? -1 : 0;
}

void
normtext_init(struct normtext *nt)
{
	memset(nt, 0, sizeof(*nt));
}

void
normtext_free(struct normtext *nt)
{
	free(nt->text);
	free(nt->ostart);
	free(nt->oend);
	free(nt->word);
	free(nt->cls);
	free(nt->compact);
	free(nt->cmap);
	free(nt->cbound);
	free(nt->cword);
	memset(nt, 0, sizeof(*nt));
}

static void
normtext_reserve(struct normtext *nt, size_t need)
{
	size_t cap = nt->cap ? nt->cap : 256;

	if (need <= nt->cap)
		return;
	while (cap < need)
		cap *= 2;
	nt->text = xrealloc(nt->text, cap + 1);
	nt->ostart = xrealloc(nt->ostart, cap * sizeof(uint32_t));
	nt->oend = xrealloc(nt->oend, cap * sizeof(uint32_t));
	nt->word = xrealloc(nt->word, cap * sizeof(uint32_t));
	nt->cls = xrealloc(nt->cls, cap);
	nt->compact = xrealloc(nt->compact, cap + 1);
	nt->cmap = xrealloc(nt->cmap, cap * sizeof(uint32_t));
	nt->cbound = xrealloc(nt->cbound, cap + 1);
	nt->cword = xrealloc(nt->cword, cap * sizeof(uint32_t));
	nt->cap = cap;
}

/* Decodes one code point at s (n > 0 bytes left); *cp = 0xFFFD and
 * length 1 for an invalid sequence. */
static size_t
utf8_decode(const unsigned char *s, size_t n, int32_t *cp)
{
	unsigned c = s[0];
	size_t len;
	int32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, v = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, v = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, v = c & 0x07;
	else
		goto bad;
	if (len > n)
		goto bad;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
	    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = 0xfffd;
	return 1;
}

static size_t
utf8_encode(int32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int
cp_class(int32_t cp)
{
	if (cp < 0x80) {
		if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') ||
		    (cp >= 'A' && cp <= 'Z'))
			return NC_WORD;
		if (cp == ' ' || cp == '-' || cp == '\'' || cp == '_' ||
		    cp == '/' || cp < 0x20 || cp == 0x7f)
			return NC_SOFT;
		return NC_HARD;
	}
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		return NC_WORD;
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_CC:
		return NC_SOFT;
	default:
		return NC_HARD;
	}
}

static int
is_space_cp(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || cp < 0x20 || cp == 0x7f;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_CC:
		return 1;
	default:
		return 0;
	}
}

static int
is_letter_cp(int32_t cp)
{
	if (cp < 0x80)
		return cp >= 'a' && cp <= 'z';
	return cp_class(cp) == NC_WORD &&
	    utf8proc_category(cp) <= UTF8PROC_CATEGORY_LO;
}

/* Keeps two copies of a long run of this letter, else one. */
static int
run_keeps_two(int32_t cp)
{
	return !(cp < 0x80 && strchr("bcdfghjklmnpqrstvwxz", (int)cp));
}

/* State of one normalise() pass. */
struct nstate {
	struct normtext		*nt;
	const struct abbrev	*ab;
	int32_t			 run_cp;	/* letter of the current run */
	size_t			 run_len;
	size_t			 run_pos[2];	/* text offsets of copies 1, 2 */
	size_t			 run_clen;	/* bytes of one copy */
	size_t			 word_start;	/* text offset, or SIZE_MAX */
	int			 last_space;
	int			 full;
};

static void
emit_bytes(struct nstate *st, const char *b, size_t n, int cls,
    uint32_t os, uint32_t oe)
{
	struct normtext *nt = st->nt;

	if (nt->len + n > NORM_MAX_OUTPUT) {
		st->full = 1;
		return;
	}
	if (nt->len + n + 1 > nt->cap)
		normtext_reserve(nt, nt->len + n + 1);
	for (size_t i = 0; i < n; i++) {
		nt->text[nt->len] = b[i];
		nt->ostart[nt->len] = os;
		nt->oend[nt->len] = oe;
		nt->cls[nt->len] = (uint8_t)cls;
		nt->len++;
	}
}

static void
extend_last(struct nstate *st, uint32_t oe)
{
	struct normtext *nt = st->nt;
	size_t i = nt->len;

	/* every byte of the last code point */
	while (i > 0) {
		i--;
		nt->oend[i] = oe;
		if (((unsigned char)nt->text[i] & 0xc0) != 0x80)
			break;
	}
}

static void
run_end(struct nstate *st)
{
	struct normtext *nt = st->nt;

	if (st->run_len >= 3 && !run_keeps_two(st->run_cp) &&
	    st->run_pos[1] + st->run_clen == nt->len) {
		uint32_t oe = nt->oend[nt->len - 1];

		nt->len = st->run_pos[1];
		for (size_t i = st->run_pos[0]; i < nt->len; i++)
			nt->oend[i] = oe;
	}
	st->run_len = 0;
	st->run_cp = -1;
}

static void
word_end(struct nstate *st)
{
	struct normtext *nt = st->nt;
	const struct abbrev_ent *e;
	size_t ws = st->word_start;
	uint32_t os, oe;

	st->word_start = SIZE_MAX;
	if (ws == SIZE_MAX || ws >= nt->len ||
	    (e = abbrev_find(st->ab, nt->text + ws, nt->len - ws)) == NULL)
		return;
	os = nt->ostart[ws];
	oe = nt->oend[nt->len - 1];
	nt->len = ws;
	for (size_t i = 0; i < e->elen; i++) {
		int32_t cp = (unsigned char)e->exp[i];
		int cls = cp == ' ' ? NC_SOFT :
		    (cp & 0x80) ? NC_WORD : cp_class(cp);

		emit_bytes(st, e->exp + i, 1, cls, os, oe);
	}
}

/* One normalised code point, from original bytes [os, oe). */
static void
emit_cp(struct nstate *st, int32_t cp, uint32_t os, uint32_t oe)
{
	char b[4];
	size_t n;
	int cls;

	if (is_space_cp(cp)) {
		run_end(st);
		word_end(st);
		if (st->last_space) {
			extend_last(st, oe);
			return;
		}
		st->last_space = 1;
		emit_bytes(st, " ", 1, NC_SOFT, os, oe);
		return;
	}
	st->last_space = 0;
	if (cp >= 'A' && cp <= 'Z')
		cp += 'a' - 'A';
	else if (cp == 0x201c || cp == 0x201d || cp == 0x201e ||
	    cp == 0x201f || cp == 0xab || cp == 0xbb || cp == 0x2033)
		cp = '"';	/* utf8proc's LUMP leaves double quotes */
	cls = cp_class(cp);
	if (cls != NC_WORD) {
		run_end(st);
		word_end(st);
	} else if (st->word_start == SIZE_MAX)
		st->word_start = st->nt->len;
	if (cls == NC_WORD && is_letter_cp(cp)) {
		if (cp == st->run_cp) {
			st->run_len++;
			if (st->run_len >= 3) {
				extend_last(st, oe);
				return;
			}
			st->run_pos[1] = st->nt->len;
		} else {
			run_end(st);
			st->run_cp = cp;
			st->run_len = 1;
			st->run_pos[0] = st->nt->len;
		}
	} else if (cls == NC_WORD)
		run_end(st);
	n = utf8_encode(cp, b);
	st->run_clen = n;
	emit_bytes(st, b, n, cls, os, oe);
}

/* emit_cp for an ASCII code point, the common case, without the Unicode
 * look-ups: the same steps in the same order. */
static inline void
emit_ascii(struct nstate *st, int32_t cp, uint32_t os)
{
	struct normtext *nt = st->nt;
	char b;
	int cls;

	if (cp <= ' ' || cp == 0x7f) {
		run_end(st);
		word_end(st);
		if (st->last_space) {
			extend_last(st, os + 1);
			return;
		}
		st->last_space = 1;
		emit_bytes(st, " ", 1, NC_SOFT, os, os + 1);
		return;
	}
	st->last_space = 0;
	if (cp >= 'A' && cp <= 'Z')
		cp += 'a' - 'A';
	if (cp >= 'a' && cp <= 'z') {
		cls = NC_WORD;
		if (st->word_start == SIZE_MAX)
			st->word_start = nt->len;
		if (cp == st->run_cp) {
			if (++st->run_len >= 3) {
				extend_last(st, os + 1);
				return;
			}
			st->run_pos[1] = nt->len;
		} else {
			run_end(st);
			st->run_cp = cp;
			st->run_len = 1;
			st->run_pos[0] = nt->len;
		}
	} else if (cp >= '0' && cp <= '9') {
		cls = NC_WORD;
		if (st->word_start == SIZE_MAX)
			st->word_start = nt->len;
		run_end(st);
	} else {
		cls = cp == '-' || cp == '\'' || cp == '_' || cp == '/' ?
		    NC_SOFT : NC_HARD;
		run_end(st);
		word_end(st);
	}
	st->run_clen = 1;
	b = (char)cp;
	emit_bytes(st, &b, 1, cls, os, os + 1);
}

static void
build_compact(struct normtext *nt)
{
	int pending = NC_HARD;
	size_t w = 0;
	int inword = 0;

	nt->clen = 0;
	nt->ncword = 0;
	for (size_t i = 0; i < nt->len; i++) {
		if (nt->cls[i] != NC_WORD) {
			if (nt->cls[i] > pending)
				pending = nt->cls[i];
			inword = 0;
			nt->word[i] = (uint32_t)w;
			continue;
		}
		if (!inword && (((unsigned char)nt->text[i] & 0xc0) != 0x80)) {
			inword = 1;
			w++;
		}
		nt->word[i] = (uint32_t)(w ? w - 1 : 0);
		nt->cbound[nt->clen] = (uint8_t)pending;
		nt->cword[nt->ncword] = (uint32_t)nt->clen;
		nt->ncword += pending != 0;
		pending = 0;
		nt->cmap[nt->clen] = (uint32_t)i;
		nt->compact[nt->clen++] = nt->text[i];
	}
	nt->cbound[nt->clen] = NC_HARD;
	nt->compact[nt->clen] = '\0';
	nt->nwords = w;
}

void
normalise(const struct abbrev *ab, const char *in, size_t len,
    struct normtext *nt)
{
	const unsigned char *p = (const unsigned char *)in;
	struct nstate st;
	utf8proc_int32_t dec[32];
	size_t i = 0, n;
	int32_t cp;
	size_t inlen0 = len;

	if (len > NORM_MAX_INPUT) {
		len = NORM_MAX_INPUT;
		/* do not cut a sequence in two */
		for (int k = 0; k < 3 && (p[len] & 0xc0) == 0x80; k++)
			len--;
	}
	memset(&st, 0, sizeof(st));
	st.nt = nt;
	st.ab = ab;
	st.run_cp = -1;
	st.word_start = SIZE_MAX;
	nt->len = 0;
	nt->truncated = len < inlen0;
	nt->inlen = len;
	normtext_reserve(nt, len + 16);
	while (i < len && !st.full) {
		uint32_t os = (uint32_t)i;

		if (p[i] < 0x80) {
			emit_ascii(&st, p[i], os);
			i++;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		i += n;
		if (cp == 0xfffd) {
			emit_cp(&st, cp, os, (uint32_t)i);
			continue;
		}
		{
			int last = 0;
			utf8proc_ssize_t k = utf8proc_decompose_char(cp, dec,
			    (utf8proc_ssize_t)nitems(dec), UTF8PROC_COMPAT |
			    UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD |
			    UTF8PROC_STRIPMARK | UTF8PROC_IGNORE |
			    UTF8PROC_LUMP | UTF8PROC_STRIPNA, &last);

			if (k < 0 || k > (utf8proc_ssize_t)nitems(dec)) {
				emit_cp(&st, 0xfffd, os, (uint32_t)i);
				continue;
			}
			for (utf8proc_ssize_t j = 0; j < k; j++)
				emit_cp(&st, dec[j], os, (uint32_t)i);
		}
	}
	run_end(&st);
	word_end(&st);
	normtext_reserve(nt, nt->len + 1);
	nt->text[nt->len] = '\0';
	build_compact(nt);
}

/* Normalised copy of a NUL-terminated string; caller frees. */
char *
normalise_str(const struct abbrev *ab, const char *s)
{
	struct normtext nt;
	char *r;

	normtext_init(&nt);
	normalise(ab, s, strlen(s), &nt);
	r = xstrndup(nt.text, nt.len);
	normtext_free(&nt);
	return r;
}

void
norm_orig_span(const struct normtext *nt, size_t s, size_t e, size_t *os,
    size_t *oe)
{
	if (nt->len == 0) {
		*os = *oe = 0;
		return;
	}
	if (s >= nt->len)
		s = nt->len - 1;
	if (e > nt->len)
		e = nt->len;
	if (e <= s)
		e = s + 1;
	*os = nt->ostart[s];
	*oe = nt->oend[e - 1];
}
