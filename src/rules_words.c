/* rules_words.c: the word-level keyword index. Keywords are whole words
 * of the compact text, so instead of an automaton stepping through every
 * byte, a scan hashes the text word by word:
 *
 * - forward, from every word start: the word, and while the words so far
 *   are the first pieces of some keyword ("auto" of "auto inbraak"), the
 *   join with the next word across a soft boundary. Keywords without a
 *   star and "kw*" live here; "kw*" is also looked up inside the words.
 * - backward, from every word end, the same with suffixes: "*kw", looked
 *   up at every suffix of a word (and joins with the words before it).
 *
 * Each table maps a string to the keywords whose pattern it is, and says
 * whether a longer key continues it across a word boundary. Words whose
 * first (last) bytes begin (end) no key are skipped, and a small bitmap
 * of the keys' hashes answers most look-ups without touching the table.
 * Infix keywords ("*kw*") are left to the caller. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "normalise.h"
#include "rules_words.h"
#include "util.h"

#define NONE		UINT32_MAX
#define FNV_BASIS	2166136261u
#define FNV_PRIME	16777619u
#define MIX_SLOT	0x9e3779b1u	/* hash -> slot (top bits) */
#define MIX_BLOOM	0x85ebca6bu	/* hash -> bitmap bit (top bits) */
#define BLOOM_PER_KEY	16		/* bitmap bits per key */
#define BLOOM_MAX_LOG	22		/* at most 512 KiB of bitmap */
#define EDGE1		256
#define EDGE2		65536
#define EDGE3		65536
#define EDGE_BITS	(EDGE1 + EDGE2 + EDGE3)

enum { WE_CONT = 1, WE_INNER = 2 };

/* A key being added (build only). */
struct wkey {
	const char	*str;
	uint32_t	 len;
	uint32_t	 hash;
	uint32_t	 id;		/* NONE: continuation only */
	uint8_t		 bwd;		/* backward table */
	uint8_t		 flags;
};

struct went {
	const char	*str;		/* not owned */
	uint32_t	 len;
	uint32_t	 first;		/* ids[first .. first + nids) */
	uint32_t	 nids;
	uint32_t	 flags;		/* WE_* */
};

struct wslot {
	uint32_t	 hash;
	uint32_t	 ent;		/* entry + 1; 0 = empty */
};

struct wtab {
	struct wslot	*slots;
	uint32_t	 mask;
	uint32_t	 shift;		/* 32 - log2(slots) */
	struct went	*ents;
	uint32_t	 nents;
	uint32_t	*ids;
	uint32_t	 nids;
	uint64_t	*bloom;		/* a bit per key hash */
	uint32_t	 bshift;	/* 32 - log2(bits) */
	uint64_t	*edge;		/* the bytes keys start (forward) or
					 * end with: EDGE1 bits for keys of
					 * one byte, EDGE2 for the two of a
					 * key of two, EDGE3 for the (hashed)
					 * three of longer ones */
	uint32_t	 maxlen;	/* longest key */
	uint32_t	 mininner;	/* shortest key looked up inside a word;
					 * 0 if there is none */
};

struct wordidx {
	struct wtab	 fwd, bwd;
	struct wkey	*keys;		/* build only */
	size_t		 nkeys, keycap;
	size_t		 nkw;
	int		 compiled;
};

static uint32_t
hash_fwd(const char *s, size_t n)
{
	uint32_t h = FNV_BASIS;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * FNV_PRIME;
	return h;
}

/* The hash of s read from its end: what a backward scan computes. */
static uint32_t
hash_bwd(const char *s, size_t n)
{
	uint32_t h = FNV_BASIS;

	while (n > 0)
		h = (h ^ (uint8_t)s[--n]) * FNV_PRIME;
	return h;
}

struct wordidx *
wordidx_new(size_t nkeywords)
{
	struct wordidx *wi = xcalloc(1, sizeof(*wi));

	/* every keyword is one key; joints add continuation keys */
	wi->keycap = nkeywords + nkeywords / 4 + 16;
	wi->keys = xcalloc(wi->keycap, sizeof(*wi->keys));
	return wi;
}

static void
wtab_free(struct wtab *t)
{
	free(t->slots);
	free(t->ents);
	free(t->ids);
	free(t->bloom);
	free(t->edge);
}

void
wordidx_free(struct wordidx *wi)
{
	if (wi == NULL)
		return;
	wtab_free(&wi->fwd);
	wtab_free(&wi->bwd);
	free(wi->keys);
	free(wi);
}

size_t
wordidx_nkeywords(const struct wordidx *wi)
{
	return wi->nkw;
}

static size_t
wtab_memory(const struct wtab *t)
{
	return (t->mask + (t->slots ? 1 : 0)) * sizeof(*t->slots) +
	    t->nents * sizeof(*t->ents) + t->nids * sizeof(*t->ids) +
	    (t->bloom ? ((size_t)1 << (32 - t->bshift)) / 8 : 0) +
	    (t->edge ? EDGE_BITS / 8 : 0);
}

size_t
wordidx_memory(const struct wordidx *wi)
{
	return sizeof(*wi) + wtab_memory(&wi->fwd) + wtab_memory(&wi->bwd) +
	    wi->keycap * sizeof(*wi->keys);
}

static void
key_add(struct wordidx *wi, const char *s, size_t n, uint32_t id, int bwd,
    int flags)
{
	struct wkey *k;

	if (wi->nkeys == wi->keycap) {
		wi->keycap *= 2;
		wi->keys = xrealloc(wi->keys, wi->keycap * sizeof(*wi->keys));
	}
	k = &wi->keys[wi->nkeys++];
	k->str = s;
	k->len = (uint32_t)n;
	k->hash = bwd ? hash_bwd(s, n) : hash_fwd(s, n);
	k->id = id;
	k->bwd = (uint8_t)bwd;
	k->flags = (uint8_t)flags;
}

int
wordidx_add(struct wordidx *wi, const char *pat, size_t n,
    const uint8_t *joint, int star_pre, int star_post, uint32_t id)
{
	if (wi->compiled || n == 0 || (star_pre && star_post))
		return -1;
	wi->nkw++;
	/* "*kw" ends at a word end: found backwards from there, at any
	 * suffix; the others start at a word start */
	key_add(wi, pat, n, id, star_pre, star_pre || star_post ? WE_INNER : 0);
	/* the words up to (or after) each joint lead on to the rest */
	for (size_t j = 1; j < n; j++)
		if (joint[j])
			key_add(wi, star_pre ? pat + j : pat,
			    star_pre ? n - j : j, NONE, star_pre, WE_CONT);
	return 0;
}

static int
cmp_key(const void *a, const void *b)
{
	const struct wkey *x = a, *y = b;
	int c;

	if (x->bwd != y->bwd)
		return x->bwd < y->bwd ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if ((c = memcmp(x->str, y->str, x->len)) != 0)
		return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
same_key(const struct wkey *x, const struct wkey *y)
{
	return x->hash == y->hash && x->len == y->len &&
	    memcmp(x->str, y->str, x->len) == 0;
}

static void
bit_set(uint64_t *bits, unsigned b)
{
	bits[b / 64] |= (uint64_t)1 << (b % 64);
}

static inline int
bit_has(const uint64_t *bits, unsigned b)
{
	return (bits[b / 64] >> (b % 64)) & 1;
}

static inline unsigned
hash3(uint8_t a, uint8_t b, uint8_t c)
{
	return ((uint32_t)a << 16 | (uint32_t)b << 8 | c) * MIX_SLOT >> 16;
}

/* Marks the first (forward) or last (backward) bytes of k[0..n). */
static void
edge_set(uint64_t *edge, const uint8_t *k, size_t n, int bwd)
{
	if (bwd)
		k += n < 3 ? 0 : n - 3;
	if (n == 1)
		bit_set(edge, k[0]);
	else if (n == 2)
		bit_set(edge, EDGE1 + ((unsigned)k[0] << 8 | k[1]));
	else
		bit_set(edge, EDGE1 + EDGE2 + hash3(k[0], k[1], k[2]));
}

/* Whether some key starts with the bytes at x[0..avail) (avail > 0). */
static inline int
edge_start(const struct wtab *t, const uint8_t *x, size_t avail)
{
	return bit_has(t->edge, x[0]) || (avail >= 2 &&
	    (bit_has(t->edge, EDGE1 + ((unsigned)x[0] << 8 | x[1])) ||
	    (avail >= 3 && bit_has(t->edge, EDGE1 + EDGE2 +
	    hash3(x[0], x[1], x[2])))));
}

/* Whether some key ends with the bytes before x (avail > 0 of them). */
static inline int
edge_end(const struct wtab *t, const uint8_t *x, size_t avail)
{
	return bit_has(t->edge, x[-1]) || (avail >= 2 &&
	    (bit_has(t->edge, EDGE1 + ((unsigned)x[-2] << 8 | x[-1])) ||
	    (avail >= 3 && bit_has(t->edge, EDGE1 + EDGE2 +
	    hash3(x[-3], x[-2], x[-1])))));
}

/* The table of keys[0..n) (sorted, all forward or all backward): one
 * entry per distinct string. */
static void
wtab_build(struct wtab *t, const struct wkey *keys, size_t n, int bwd)
{
	size_t nent = 0, nid = 0, size, bits;
	unsigned lg;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_key(&keys[i], &keys[i - 1]))
			nent++;
		if (keys[i].id != NONE)
			nid++;
	}
	t->ents = xcalloc(nent, sizeof(*t->ents));
	t->ids = xcalloc(nid ? nid : 1, sizeof(*t->ids));
	for (size_t i = 0; i < n; i++) {
		const struct wkey *k = &keys[i];
		struct went *w;

		if (i == 0 || !same_key(k, &keys[i - 1])) {
			w = &t->ents[t->nents++];
			w->str = k->str;
			w->len = k->len;
			w->first = t->nids;
		} else
			w = &t->ents[t->nents - 1];
		w->flags |= k->flags;
		if (k->id != NONE) {
			t->ids[t->nids++] = k->id;
			w->nids++;
		}
		if (k->len > t->maxlen)
			t->maxlen = k->len;
		if ((k->flags & WE_INNER) && (t->mininner == 0 ||
		    k->len < t->mininner))
			t->mininner = k->len;
	}
	/* slots: a power of two, at most 3/4 full (the bitmap keeps most
	 * look-ups of absent keys away from the table) */
	for (lg = 4, size = 16; size * 3 < 4 * (size_t)nent; lg++, size *= 2)
		;
	t->slots = xcalloc(size, sizeof(*t->slots));
	t->mask = (uint32_t)(size - 1);
	t->shift = 32 - lg;
	for (lg = 9, bits = 512; bits < BLOOM_PER_KEY * (size_t)nent &&
	    lg < BLOOM_MAX_LOG; lg++, bits *= 2)
		;
	t->bloom = xcalloc(bits / 64, sizeof(uint64_t));
	t->bshift = 32 - lg;
	for (uint32_t e = 0; e < t->nents; e++) {
		const struct went *w = &t->ents[e];
		uint32_t h = bwd ? hash_bwd(w->str, w->len) :
		    hash_fwd(w->str, w->len);
		uint32_t s = (h * MIX_SLOT) >> t->shift;

		while (t->slots[s].ent != 0)
			s = (s + 1) & t->mask;
		t->slots[s].hash = h;
		t->slots[s].ent = e + 1;
		bit_set(t->bloom, (h * MIX_BLOOM) >> t->bshift);
	}
	/* a scan looks at a word only if some key starts (ends) there */
	t->edge = xcalloc(EDGE_BITS / 64, sizeof(uint64_t));
	for (uint32_t e = 0; e < t->nents; e++)
		edge_set(t->edge, (const uint8_t *)t->ents[e].str,
		    t->ents[e].len, bwd);
}

void
wordidx_compile(struct wordidx *wi)
{
	size_t nfwd = 0;

	if (wi->compiled)
		return;
	qsort(wi->keys, wi->nkeys, sizeof(*wi->keys), cmp_key);
	while (nfwd < wi->nkeys && !wi->keys[nfwd].bwd)
		nfwd++;
	wtab_build(&wi->fwd, wi->keys, nfwd, 0);
	wtab_build(&wi->bwd, wi->keys + nfwd, wi->nkeys - nfwd, 1);
	free(wi->keys);
	wi->keys = NULL;
	wi->keycap = wi->nkeys = 0;
	wi->compiled = 1;
}

static inline int
bloom_has(const struct wtab *t, uint32_t h)
{
	return bit_has(t->bloom, (h * MIX_BLOOM) >> t->bshift);
}

/* The entry for s[0..n) with hash h, or NULL. */
static const struct went *
wtab_find(const struct wtab *t, uint32_t h, const char *s, size_t n)
{
	uint32_t i = (h * MIX_SLOT) >> t->shift;

	for (;; i = (i + 1) & t->mask) {
		const struct wslot *sl = &t->slots[i];
		const struct went *w;

		if (sl->ent == 0)
			return NULL;
		w = &t->ents[sl->ent - 1];
		if (sl->hash == h && w->len == n && memcmp(w->str, s, n) == 0)
			return w;
	}
}

static int
report(const struct wtab *t, const struct went *w, size_t s, size_t e,
    int (*fn)(void *, uint32_t, size_t, size_t), void *arg)
{
	for (uint32_t i = 0; i < w->nids; i++)
		if (fn(arg, t->ids[w->first + i], s, e))
			return 1;
	return 0;
}

/* From every word start: the word, its prefixes (for "kw*") and, while a
 * key continues, joins with the next words. Word j is [ws[j], ws[j+1]),
 * the last one ends at n. */
static int
scan_fwd(const struct wtab *t, const char *text, const uint8_t *cb,
    size_t n, const uint32_t *ws, size_t nw,
    int (*fn)(void *, uint32_t, size_t, size_t), void *arg)
{
	for (size_t j = 0; j < nw; j++) {
		size_t s = ws[j], p = s, end, stop, k = j;
		uint32_t h = FNV_BASIS;
		const struct went *w;

		if (!edge_start(t, (const uint8_t *)text + s, n - s))
			continue;
		for (;;) {
			end = k + 1 < nw ? ws[k + 1] : n;
			stop = end - s > t->maxlen ? s + t->maxlen : end;
			while (p < stop) {
				h = (h ^ (uint8_t)text[p++]) * FNV_PRIME;
				/* inside the word: "kw*" only */
				if (p == end || t->mininner == 0 ||
				    p - s < t->mininner || !bloom_has(t, h) ||
				    (w = wtab_find(t, h, text + s, p - s)) ==
				    NULL || !(w->flags & WE_INNER))
					continue;
				if (report(t, w, s, p, fn, arg))
					return 1;
			}
			if (stop != end || !bloom_has(t, h) ||
			    (w = wtab_find(t, h, text + s, end - s)) == NULL)
				break;
			if (report(t, w, s, end, fn, arg))
				return 1;
			if (!(w->flags & WE_CONT) || cb[end] != NC_SOFT)
				break;
			k++;
		}
	}
	return 0;
}

/* The mirror image: from every word end, its suffixes and, while a key
 * continues, joins with the words before. */
static int
scan_bwd(const struct wtab *t, const char *text, const uint8_t *cb,
    size_t n, const uint32_t *ws, size_t nw,
    int (*fn)(void *, uint32_t, size_t, size_t), void *arg)
{
	for (size_t j = 0; j < nw; j++) {
		size_t e = j + 1 < nw ? ws[j + 1] : n, p = e, stop, k = j;
		uint32_t h = FNV_BASIS;
		const struct went *w;

		if (!edge_end(t, (const uint8_t *)text + e, e))
			continue;
		for (;;) {
			stop = e - ws[k] > t->maxlen ? e - t->maxlen : ws[k];
			while (p > stop) {
				h = (h ^ (uint8_t)text[--p]) * FNV_PRIME;
				/* inside the word: "*kw" */
				if (p == ws[k] || t->mininner == 0 ||
				    e - p < t->mininner || !bloom_has(t, h) ||
				    (w = wtab_find(t, h, text + p, e - p)) ==
				    NULL || !(w->flags & WE_INNER))
					continue;
				if (report(t, w, p, e, fn, arg))
					return 1;
			}
			if (stop != ws[k] || !bloom_has(t, h) ||
			    (w = wtab_find(t, h, text + p, e - p)) == NULL)
				break;
			if (report(t, w, p, e, fn, arg))
				return 1;
			if (!(w->flags & WE_CONT) || cb[p] != NC_SOFT || k == 0)
				break;
			k--;
		}
	}
	return 0;
}

void
wordidx_scan(const struct wordidx *wi, const char *compact,
    const uint8_t *cbound, size_t clen, const uint32_t *wstart, size_t nw,
    int (*fn)(void *arg, uint32_t id, size_t start, size_t end), void *arg)
{
	if (!wi->compiled)
		return;
	if (wi->fwd.nents > 0 && scan_fwd(&wi->fwd, compact, cbound, clen,
	    wstart, nw, fn, arg))
		return;
	if (wi->bwd.nents > 0)
		(void)scan_bwd(&wi->bwd, compact, cbound, clen, wstart, nw, fn,
		    arg);
}
