/* rules_load.c: rule files (YAML, see rules/README) to a compiled rule
 * set: conditions, deduplicated keyword and regex atoms, the prefilter
 * automata and each rule's trigger atoms. */
#include "config.h"

#include <dirent.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rules_int.h"
#include "yamltree.h"

#define MAX_RULE_FILES	1000
#define MAX_DEPTH	20

enum def_kind { DEF_LIST, DEF_FRAGMENT };

struct def {
	char			*name;
	enum def_kind		 kind;
	const struct ynode	*node;
	const char		*file;
	struct cond		*cond;
	int			 busy;
	unsigned		 seen;		/* refs_known pass */
};

struct pending {
	const struct ynode	*node;
	const char		*file;
	int			 is_cue;
};

/* String -> index map (open addressing), for atoms and names. */
struct smap {
	char		**keys;
	uint32_t	 *vals;
	size_t		  size, n;
};

struct lctx {
	struct ruleset	 *rs;
	struct diag	 *d;
	struct def	 *defs;
	size_t		  ndefs;
	struct smap	  defmap;
	struct smap	  atommap;
	struct smap	  idmap;
	struct pending	 *pend;
	size_t		  npend;
	struct ynode	**trees;
	size_t		  ntrees;
	int		  depth;
	size_t		  njit;
	unsigned	  epoch;	/* refs_known pass */
};

static uint32_t
strhash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static size_t
smap_slot(const struct smap *m, const char *k)
{
	size_t i = strhash(k) & (m->size - 1);

	while (m->keys[i] != NULL && strcmp(m->keys[i], k) != 0)
		i = (i + 1) & (m->size - 1);
	return i;
}

static int
smap_get(const struct smap *m, const char *k, uint32_t *v)
{
	size_t i;

	if (m->size == 0)
		return -1;
	i = smap_slot(m, k);
	if (m->keys[i] == NULL)
		return -1;
	*v = m->vals[i];
	return 0;
}

static void
smap_put(struct smap *m, const char *k, uint32_t v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->size) {
		struct smap o = *m;

		m->size = m->size ? m->size * 2 : 64;
		m->keys = xcalloc(m->size, sizeof(char *));
		m->vals = xcalloc(m->size, sizeof(uint32_t));
		m->n = 0;
		for (size_t j = 0; j < o.size; j++)
			if (o.keys[j] != NULL) {
				i = smap_slot(m, o.keys[j]);
				m->keys[i] = o.keys[j];
				m->vals[i] = o.vals[j];
				m->n++;
			}
		free(o.keys);
		free(o.vals);
	}
	i = smap_slot(m, k);
	if (m->keys[i] == NULL) {
		m->keys[i] = xstrdup(k);
		m->n++;
	}
	m->vals[i] = v;
}

static void
smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->size; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

#define ARENA_CHUNK	(64 * 1024)

/* Zeroed, 8-byte aligned memory owned by a; freed by arena_free. */
void *
arena_alloc(struct arena *a, size_t n)
{
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (n > ARENA_CHUNK / 4) {
		/* big pieces get a chunk of their own */
		p = xcalloc(1, n);
		a->chunks = xrealloc(a->chunks,
		    (a->nchunks + 1) * sizeof(*a->chunks));
		a->chunks[a->nchunks++] = p;
		return p;
	}
	if (n > a->left) {
		a->cur = xcalloc(1, ARENA_CHUNK);
		a->left = ARENA_CHUNK;
		a->chunks = xrealloc(a->chunks,
		    (a->nchunks + 1) * sizeof(*a->chunks));
		a->chunks[a->nchunks++] = a->cur;
	}
	p = a->cur;
	a->cur += n;
	a->left -= n;
	return p;
}

/* Copy of s owned by a; freed by arena_free. */
char *
arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);

	memcpy(p, s, n);
	return p;
}

/* Copy of s[0..n) owned by a; freed by arena_free. */
static char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	return p;
}

void
arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->nchunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
	memset(a, 0, sizeof(*a));
}

static const char *const cond_keys[] = {
	"keywords", "all", "any", "not", "unless", "at-least", "within", NULL
};

/* label as a static string if it is a condition key, else a copy in the
 * arena. */
static const char *
cond_label(struct lctx *c, const char *label)
{
	for (const char *const *p = cond_keys; *p != NULL; p++)
		if (strcmp(*p, label) == 0)
			return *p;
	if (strcmp(label, "{...}") == 0)
		return "{...}";
	return arena_strdup(&c->rs->arena, label);
}

/* A new condition with room for maxkids kids, owned by the rule set's
 * arena. */
static struct cond *
cond_new(struct lctx *c, enum cond_type t, const char *label,
    size_t maxkids)
{
	struct ruleset *rs = c->rs;
	struct cond *k = arena_alloc(&rs->arena, sizeof(*k));

	k->type = (uint8_t)t;
	k->label = t == CT_ATOM ? NULL : cond_label(c, label ? label : "");
	if (maxkids > 0)
		k->kids = arena_alloc(&rs->arena, maxkids * sizeof(*k->kids));
	k->kcap = (uint32_t)maxkids;
	return k;
}

static void
cond_add(struct cond *k, struct cond *kid)
{
	if (k->nkids == k->kcap)
		fatalx("cond_add: no room");
	k->kids[k->nkids++] = kid;
}

/* A new atom in rs->atoms (owned by the rule set), registered under key. */
static struct atom *
atom_new(struct lctx *c, const char *key, const char *file,
    const struct ynode *at, uint32_t *idx)
{
	struct ruleset *rs = c->rs;
	struct atom *a;

	rs->atoms = xrealloc(rs->atoms, (rs->natoms + 1) * sizeof(*rs->atoms));
	a = &rs->atoms[rs->natoms];
	memset(a, 0, sizeof(*a));
	a->file = file;
	a->line = at->line;
	a->col = at->col;
	*idx = (uint32_t)rs->natoms++;
	smap_put(&c->atommap, key, *idx);
	return a;
}

/* Column of byte off of a scalar's text (1 more if it was quoted). */
static int
scalar_col(const struct ynode *n, size_t off)
{
	return n->col + (n->quoted ? 1 : 0) + (int)off;
}

static int
regex_atom(struct lctx *c, const char *file, const struct ynode *n,
    uint32_t *idx)
{
	char *key, *pat;
	size_t len = n->len;
	struct atom *a;
	pcre2_code *re;
	int err;
	PCRE2_SIZE off;

	if (len < 3 || n->str[len - 1] != '/') {
		diag_error(c->d, file, n->line, scalar_col(n, 0),
		    "a regex is written /.../ (no flags; matching is on "
		    "lower-cased text)");
		return -1;
	}
	key = xasprintf("r:%s", n->str);
	if (smap_get(&c->atommap, key, idx) == 0) {
		free(key);
		return 0;
	}
	pat = xstrndup(n->str + 1, len - 2);
	re = pcre2_compile((PCRE2_SPTR)pat, len - 2, PCRE2_UTF | PCRE2_UCP |
	    PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS, &err, &off, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(err, msg, sizeof(msg));
		diag_error(c->d, file, n->line, scalar_col(n, 1 + off),
		    "bad regex: %s", (char *)msg);
		free(pat);
		free(key);
		return -1;
	}
	a = atom_new(c, key, file, n, idx);
	free(key);
	a->kind = AT_RE;
	a->src = arena_strdup(&c->rs->arena, n->str);
	a->re = re;
	{
		size_t nl;

		a->lits = regex_literals(pat, &nl);
		a->nlits = (uint32_t)nl;
	}
	/* JIT costs ~5 KiB a regex; the prefilter keeps most regexes from
	 * running at all, so in big sets only those without literals (run
	 * for every message) get it. */
	if (a->nlits == 0 || ++c->njit <= JIT_ALL_BELOW)
		a->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	free(pat);
	return 0;
}

static int
keyword_atom(struct lctx *c, const char *file, const struct ynode *n,
    uint32_t *idx)
{
	const char *s = n->str;
	size_t len = n->len;
	int pre = 0, post = 0;
	struct normtext nt;
	char *body, *key;
	struct atom *a;

	if (len > 0 && s[0] == '*') {
		pre = 1;
		s++;
		len--;
	}
	if (len > 0 && s[len - 1] == '*') {
		post = 1;
		len--;
	}
	body = xstrndup(s, len);
	normtext_init(&nt);
	normalise(c->rs->abbrev, body, len, &nt);
	free(body);
	for (size_t i = 1; i < nt.clen; i++)
		if (nt.cbound[i] == NC_HARD) {
			diag_error(c->d, file, n->line, scalar_col(n, 0),
			    "keyword \"%s\" contains punctuation; use a "
			    "/regex/ for that", n->str);
			normtext_free(&nt);
			return -1;
		}
	if (nt.clen < 2 || (nt.clen < 3 && (pre || post))) {
		diag_error(c->d, file, n->line, scalar_col(n, 0),
		    "keyword \"%s\" is too short", n->str);
		normtext_free(&nt);
		return -1;
	}
	if (nt.clen > 200) {
		diag_error(c->d, file, n->line, scalar_col(n, 0),
		    "keyword is longer than 200 bytes");
		normtext_free(&nt);
		return -1;
	}
	key = xasprintf("k:%s%s%s", pre ? "*" : "", nt.text, post ? "*" : "");
	if (smap_get(&c->atommap, key, idx) == 0) {
		free(key);
		normtext_free(&nt);
		return 0;
	}
	a = atom_new(c, key, file, n, idx);
	free(key);
	a->kind = AT_KW;
	a->src = arena_strdup(&c->rs->arena, n->str);
	a->pat = arena_strndup(&c->rs->arena, nt.compact, nt.clen);
	a->patlen = (uint32_t)nt.clen;
	a->joint = arena_alloc(&c->rs->arena, nt.clen + 1);
	for (size_t i = 1; i < nt.clen; i++)
		a->joint[i] = nt.cbound[i] == NC_SOFT;
	a->star_pre = pre;
	a->star_post = post;
	normtext_free(&nt);
	return 0;
}

static struct cond *parse_condset(struct lctx *, const char *,
    const struct ynode *, const char *, const char *const *);
static struct cond *resolve_ref(struct lctx *, const char *,
    const struct ynode *);

/* One item of a condition list: keyword, /regex/, @name or a mapping. */
static struct cond *
parse_item(struct lctx *c, const char *file, const struct ynode *n)
{
	struct cond *k;
	uint32_t idx;

	if (n->type == YN_MAP)
		return parse_condset(c, file, n, "{...}", cond_keys);
	if (n->type != YN_SCALAR) {
		diag_error(c->d, file, n->line, n->col,
		    "expected a keyword, /regex/, @name or a mapping, not %s",
		    ynode_typename(n));
		return NULL;
	}
	if (n->len == 0) {
		diag_error(c->d, file, n->line, n->col, "empty keyword");
		return NULL;
	}
	if (n->str[0] == '@')
		return resolve_ref(c, file, n);
	if (n->str[0] == '/') {
		if (regex_atom(c, file, n, &idx) == -1)
			return NULL;
	} else if (keyword_atom(c, file, n, &idx) == -1)
		return NULL;
	k = cond_new(c, CT_ATOM, n->str, 0);
	k->atom = idx;
	k->lazy = c->rs->atoms[idx].kind == AT_RE &&
	    c->rs->atoms[idx].nlits == 0;
	return k;
}

/* Items of a list (a lone scalar counts as a list of one). */
static struct cond *
parse_list(struct lctx *c, const char *file, const struct ynode *n,
    enum cond_type t, const char *label)
{
	struct cond *k = cond_new(c, t, label, n->type == YN_SEQ ? n->n : 1),
	    *kid;
	int bad = 0;

	if (n->type != YN_SEQ) {
		if ((kid = parse_item(c, file, n)) == NULL)
			return NULL;
		cond_add(k, kid);
		return k;
	}
	if (n->n == 0) {
		diag_error(c->d, file, n->line, n->col, "empty list");
		return NULL;
	}
	for (size_t i = 0; i < n->n; i++) {
		if ((kid = parse_item(c, file, n->items[i])) == NULL)
			bad = 1;
		else
			cond_add(k, kid);
	}
	return bad ? NULL : k;
}

/* at-least: {n: N, of: [...]} or within: {words: N, of: [...]}. */
static struct cond *
parse_counted(struct lctx *c, const char *file, const struct ynode *n,
    enum cond_type t, const char *label)
{
	const char *nkey = t == CT_ATLEAST ? "n" : "words";
	const struct ynode *nv, *of;
	struct cond *k;
	long v;
	int bad = 0;

	if (n->type != YN_MAP) {
		diag_error(c->d, file, n->line, n->col,
		    "%s wants a mapping {%s: N, of: [...]}", label, nkey);
		return NULL;
	}
	for (size_t i = 0; i < n->n; i++)
		if (strcmp(n->keys[i]->str, nkey) != 0 &&
		    strcmp(n->keys[i]->str, "of") != 0) {
			diag_error(c->d, file, n->keys[i]->line,
			    n->keys[i]->col, "unknown key \"%s\" in %s",
			    n->keys[i]->str, label);
			bad = 1;
		}
	nv = ymap_get(n, nkey);
	of = ymap_get(n, "of");
	if (nv == NULL || of == NULL) {
		diag_error(c->d, file, n->line, n->col,
		    "%s needs both \"%s\" and \"of\"", label, nkey);
		return NULL;
	}
	if (ynode_int(nv, file, t == CT_ATLEAST ? 1 : 0,
	    t == CT_ATLEAST ? 100 : WITHIN_MAX, &v, c->d) == -1 || bad)
		return NULL;
	if ((k = parse_list(c, file, of, t, label)) == NULL)
		return NULL;
	k->n = (int)v;
	if (t == CT_ATLEAST && (size_t)v > k->nkids) {
		diag_error(c->d, file, nv->line, nv->col,
		    "at-least %ld of only %u", v, k->nkids);
		return NULL;
	}
	if (t == CT_WITHIN && k->nkids < 2) {
		diag_error(c->d, file, of->line, of->col,
		    "within needs at least two items");
		return NULL;
	}
	return k;
}

static int
key_allowed(const char *key, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (strcmp(key, *allowed) == 0)
			return 1;
	return 0;
}

/* The conditions of a mapping, all of which must hold. Other keys must
 * be in extra (or be condition keys). */
static struct cond *
parse_condset(struct lctx *c, const char *file, const struct ynode *m,
    const char *label, const char *const *extra)
{
	struct cond *all = cond_new(c, CT_ALL, label, m->n), *k;
	int bad = 0, npos = 0;

	if (++c->depth > MAX_DEPTH) {
		diag_error(c->d, file, m->line, m->col,
		    "conditions nested too deeply");
		c->depth--;
		return NULL;
	}
	for (size_t i = 0; i < m->n; i++) {
		const char *key = m->keys[i]->str;
		const struct ynode *v = m->items[i];

		k = NULL;
		if (!key_allowed(key, cond_keys)) {
			if (!key_allowed(key, extra)) {
				diag_error(c->d, file, m->keys[i]->line,
				    m->keys[i]->col, "unknown key \"%s\"", key);
				bad = 1;
			}
			continue;
		}
		if (strcmp(key, "keywords") == 0 || strcmp(key, "any") == 0)
			k = parse_list(c, file, v, CT_ANY, key);
		else if (strcmp(key, "all") == 0)
			k = parse_list(c, file, v, CT_ALL, key);
		else if (strcmp(key, "not") == 0 || strcmp(key, "unless") == 0)
			k = parse_list(c, file, v, CT_NONE, key);
		else if (strcmp(key, "at-least") == 0)
			k = parse_counted(c, file, v, CT_ATLEAST, key);
		else if (strcmp(key, "within") == 0) {
			if (v->type == YN_SEQ) {
				struct cond *w = cond_new(c, CT_ALL, key,
				    v->n);

				for (size_t j = 0; j < v->n; j++) {
					k = parse_counted(c, file, v->items[j],
					    CT_WITHIN, key);
					if (k == NULL)
						bad = 1;
					else
						cond_add(w, k);
				}
				k = w;
			} else
				k = parse_counted(c, file, v, CT_WITHIN, key);
		}
		if (k == NULL) {
			bad = 1;
			continue;
		}
		if (k->type != CT_NONE)
			npos++;
		cond_add(all, k);
	}
	c->depth--;
	if (bad)
		return NULL;
	if (npos == 0) {
		diag_error(c->d, file, m->line, m->col,
		    "no condition: give keywords, all, any, at-least or "
		    "within");
		return NULL;
	}
	return all;
}

static const char *const list_keys[] = { "list", "note", NULL };
static const char *const frag_keys[] = { "fragment", "note", NULL };

static struct cond *
resolve_ref(struct lctx *c, const char *file, const struct ynode *n)
{
	uint32_t i;
	struct def *df;
	struct cond *k;

	if (smap_get(&c->defmap, n->str + 1, &i) == -1) {
		diag_error(c->d, file, n->line, n->col,
		    "unknown list or fragment \"%s\"", n->str);
		return NULL;
	}
	df = &c->defs[i];
	if (df->cond != NULL)
		return df->cond;
	if (df->busy == 2)
		return NULL;	/* already reported */
	if (df->busy) {
		diag_error(c->d, file, n->line, n->col,
		    "\"%s\" refers to itself", n->str);
		return NULL;
	}
	df->busy = 1;
	if (df->kind == DEF_LIST) {
		const struct ynode *kw = ymap_get(df->node, "keywords");
		int bad = 0;

		for (size_t j = 0; j < df->node->n; j++)
			if (!key_allowed(df->node->keys[j]->str, list_keys) &&
			    strcmp(df->node->keys[j]->str, "keywords") != 0) {
				diag_error(c->d, df->file,
				    df->node->keys[j]->line,
				    df->node->keys[j]->col,
				    "unknown key \"%s\" in a list",
				    df->node->keys[j]->str);
				bad = 1;
			}
		if (kw == NULL) {
			diag_error(c->d, df->file, df->node->line,
			    df->node->col, "list \"%s\" has no keywords",
			    df->name);
			k = NULL;
		} else
			k = parse_list(c, df->file, kw, CT_ANY, n->str);
		if (bad)
			k = NULL;
	} else
		k = parse_condset(c, df->file, df->node, n->str, frag_keys);
	df->busy = k == NULL ? 2 : 0;
	if (k != NULL) {
		k->label = arena_strdup(&c->rs->arena, n->str);
		/* shared by every rule that refers to it: evaluated once a
		 * message */
		k->memo = ++c->rs->nmemo;
	}
	df->cond = k;
	return k;
}

static int conds_refs_known(struct lctx *, const struct ynode *);

/* Whether every list or fragment that n refers to, directly or through
 * other lists and fragments, has been read already. */
static int
refs_known(struct lctx *c, const struct ynode *n)
{
	struct def *df;
	uint32_t i;

	if (n->type != YN_SCALAR) {
		for (size_t j = 0; j < n->n; j++)
			if (!refs_known(c, n->items[j]))
				return 0;
		return 1;
	}
	if (n->str[0] != '@')
		return 1;
	if (smap_get(&c->defmap, n->str + 1, &i) == -1)
		return 0;
	df = &c->defs[i];
	if (df->cond != NULL || df->busy || df->seen == c->epoch)
		return 1;
	df->seen = c->epoch;
	return conds_refs_known(c, df->node);
}

/* The same for the conditions of a rule, list or fragment. */
static int
conds_refs_known(struct lctx *c, const struct ynode *m)
{
	for (size_t j = 0; j < m->n; j++)
		if (key_allowed(m->keys[j]->str, cond_keys) &&
		    !refs_known(c, m->items[j]))
			return 0;
	return 1;
}

static const char *
scalar(struct lctx *c, const char *file, const struct ynode *n,
    const char *what)
{
	if (n->type != YN_SCALAR) {
		diag_error(c->d, file, n->line, n->col, "%s must be a scalar, "
		    "not %s", what, ynode_typename(n));
		return NULL;
	}
	return n->str;
}

static int
parse_examples(struct lctx *c, const char *file, const struct ynode *n,
    struct example **out, size_t *nout)
{
	if (n == NULL)
		return 0;
	if (n->type != YN_SEQ) {
		diag_error(c->d, file, n->line, n->col,
		    "examples must be a list of messages");
		return -1;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *e = n->items[i];

		if (scalar(c, file, e, "an example") == NULL)
			return -1;
		*out = xrealloc(*out, (*nout + 1) * sizeof(**out));
		(*out)[*nout].text = arena_strdup(&c->rs->arena, e->str);
		(*out)[*nout].line = e->line;
		(*out)[*nout].col = e->col;
		(*nout)++;
	}
	return 0;
}

static const char *const rule_keys[] = {
	"id", "title", "category", "urgency", "score", "status", "examples",
	"counter-examples", "note", NULL
};
static const char *const cue_keys[] = {
	"cue", "title", "raise", "lower", "categories", "status", "examples",
	"counter-examples", "note", NULL
};

static void
compile_rule(struct lctx *c, const struct pending *p)
{
	const struct ynode *m = p->node, *v, *idn;
	const char *file = p->file, *s;
	struct ruleset *rs = c->rs;
	struct rule r;
	uint32_t dummy;
	long l;
	int bad = 0;

	memset(&r, 0, sizeof(r));
	r.file = file;
	r.line = m->line;
	r.col = m->col;
	r.is_cue = p->is_cue;
	r.urgency = URG_NORMAAL;
	r.score = DEFAULT_THRESHOLD;
	r.catidx = -1;
	idn = ymap_get(m, p->is_cue ? "cue" : "id");
	if ((s = scalar(c, file, idn, "id")) == NULL)
		return;
	if (*s == '\0' || strlen(s) > 100 || strpbrk(s, " \t\"") != NULL) {
		diag_error(c->d, file, idn->line, idn->col,
		    "id must be one word of at most 100 bytes");
		bad = 1;
	}
	if (smap_get(&c->idmap, s, &dummy) == 0) {
		diag_error(c->d, file, idn->line, idn->col,
		    "duplicate id \"%s\"", s);
		bad = 1;
	}
	smap_put(&c->idmap, s, 0);
	r.id = arena_strdup(&c->rs->arena, s);
	if ((v = ymap_get(m, "title")) != NULL &&
	    (s = scalar(c, file, v, "title")) != NULL)
		r.title = arena_strdup(&c->rs->arena, s);
	else
		r.title = r.id;
	if ((v = ymap_get(m, "status")) != NULL &&
	    (s = scalar(c, file, v, "status")) != NULL) {
		if (strcmp(s, "testing") == 0)
			r.testing = 1;
		else if (strcmp(s, "stable") != 0) {
			diag_error(c->d, file, v->line, v->col,
			    "status is stable or testing, not \"%s\"", s);
			bad = 1;
		}
	}
	if (!p->is_cue) {
		if ((v = ymap_get(m, "category")) == NULL) {
			diag_error(c->d, file, m->line, m->col,
			    "rule \"%s\" has no category", r.id);
			bad = 1;
		} else if ((s = scalar(c, file, v, "category")) != NULL &&
		    (r.category = category_lookup(s)) == NULL) {
			diag_error(c->d, file, v->line, v->col,
			    "unknown category \"%s\"", s);
			bad = 1;
		} else if (r.category)
			r.catidx = category_index(r.category);
		if ((v = ymap_get(m, "urgency")) != NULL &&
		    (s = scalar(c, file, v, "urgency")) != NULL &&
		    urgency_parse(s, &r.urgency) == -1) {
			diag_error(c->d, file, v->line, v->col,
			    "urgency is spoed, normaal or info, not \"%s\"", s);
			bad = 1;
		}
		if ((v = ymap_get(m, "score")) != NULL) {
			if (ynode_int(v, file, -100, 100, &l, c->d) == -1)
				bad = 1;
			else
				r.score = (int)l;
		}
	} else {
		const struct ynode *ra = ymap_get(m, "raise");
		const struct ynode *lo = ymap_get(m, "lower");

		if ((ra == NULL) == (lo == NULL)) {
			diag_error(c->d, file, m->line, m->col,
			    "cue \"%s\" needs exactly one of raise or lower",
			    r.id);
			bad = 1;
		} else {
			v = ra ? ra : lo;
			r.cue_raise = ra != NULL;
			if ((s = scalar(c, file, v, "urgency")) != NULL &&
			    (urgency_parse(s, &r.cue_target) == -1 ||
			    (ra && r.cue_target == URG_INFO) ||
			    (lo && r.cue_target == URG_SPOED))) {
				diag_error(c->d, file, v->line, v->col,
				    "raise to spoed or normaal, lower to "
				    "normaal or info, not \"%s\"", s);
				bad = 1;
			}
		}
		if ((v = ymap_get(m, "categories")) != NULL) {
			if (v->type != YN_SEQ) {
				diag_error(c->d, file, v->line, v->col,
				    "categories must be a list");
				bad = 1;
			} else
				for (size_t i = 0; i < v->n; i++) {
					int ci = v->items[i]->type ==
					    YN_SCALAR ? category_index(
					    v->items[i]->str) : -1;
					if (ci < 0) {
						diag_error(c->d, file,
						    v->items[i]->line,
						    v->items[i]->col,
						    "unknown category");
						bad = 1;
					} else
						r.cue_cats |= 1u << ci;
				}
		}
	}
	if (parse_examples(c, file, ymap_get(m, "examples"), &r.ex,
	    &r.nex) == -1 || parse_examples(c, file,
	    ymap_get(m, "counter-examples"), &r.cex, &r.ncex) == -1)
		bad = 1;
	r.cond = parse_condset(c, file, m, r.id,
	    p->is_cue ? cue_keys : rule_keys);
	if (r.cond == NULL)
		bad = 1;
	/* the example lists into the arena too */
	if (r.nex > 0) {
		struct example *e = arena_alloc(&rs->arena,
		    r.nex * sizeof(*e));

		memcpy(e, r.ex, r.nex * sizeof(*e));
		free(r.ex);
		r.ex = e;
	}
	if (r.ncex > 0) {
		struct example *e = arena_alloc(&rs->arena,
		    r.ncex * sizeof(*e));

		memcpy(e, r.cex, r.ncex * sizeof(*e));
		free(r.cex);
		r.cex = e;
	}
	/* kept even when bad, so everything is freed in one place */
	rs->rules = xrealloc(rs->rules, (rs->nrules + 1) * sizeof(*rs->rules));
	rs->rules[rs->nrules++] = r;
	(void)bad;
}

/* Trigger: atoms one of which must be true for cond to hold. Returns 0
 * and the set in *out, or -1 if there is no such set. */
static int
necessary(const struct ruleset *rs, const struct cond *k, uint32_t **out,
    size_t *nout)
{
	uint32_t *best = NULL, *u = NULL, *s;
	size_t nbest = 0, nu = 0, ns;
	int have = 0;

	switch (k->type) {
	case CT_ATOM:
		if (rs->atoms[k->atom].kind == AT_RE &&
		    rs->atoms[k->atom].nlits == 0)
			return -1;
		*out = xmalloc(sizeof(uint32_t));
		**out = k->atom;
		*nout = 1;
		return 0;
	case CT_NONE:
		return -1;
	case CT_ALL:
	case CT_WITHIN:
		for (size_t i = 0; i < k->nkids; i++) {
			if (necessary(rs, k->kids[i], &s, &ns) == -1)
				continue;
			if (!have || ns < nbest) {
				free(best);
				best = s;
				nbest = ns;
				have = 1;
			} else
				free(s);
		}
		if (!have)
			return -1;
		*out = best;
		*nout = nbest;
		return 0;
	case CT_ANY:
	case CT_ATLEAST:
		for (size_t i = 0; i < k->nkids; i++) {
			if (necessary(rs, k->kids[i], &s, &ns) == -1) {
				free(u);
				return -1;
			}
			u = xrealloc(u, (nu + ns) * sizeof(uint32_t));
			memcpy(u + nu, s, ns * sizeof(uint32_t));
			nu += ns;
			free(s);
		}
		if (nu == 0)
			return -1;
		*out = u;
		*nout = nu;
		return 0;
	}
	return -1;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The long keyword lists under k (not visited before, per *seen) onto
 * *out, each with a tally slot. */
static void
find_tallies(struct ruleset *rs, struct cond *k, struct cond ***out,
    size_t *nout, uint8_t *seen)
{
	size_t nkw = 0;

	if (k->type == CT_ATOM)
		return;
	if (k->memo != 0) {
		if (seen[k->memo - 1])
			return;		/* a list or fragment met before */
		seen[k->memo - 1] = 1;
	}
	for (size_t i = 0; i < k->nkids; i++) {
		const struct cond *kid = k->kids[i];

		if (kid->type == CT_ATOM && rs->atoms[kid->atom].kind == AT_KW)
			nkw++;
		else
			find_tallies(rs, k->kids[i], out, nout, seen);
	}
	if ((k->type == CT_ANY || k->type == CT_ATLEAST ||
	    k->type == CT_NONE) && nkw >= TALLY_MIN) {
		*out = xrealloc(*out, (*nout + 1) * sizeof(**out));
		(*out)[(*nout)++] = k;
		k->tally = (uint32_t)*nout;
	}
}

/* Tally slots for the long keyword lists, and each keyword atom's list
 * of the slots it counts in. */
static void
build_tallies(struct ruleset *rs)
{
	struct cond **tl = NULL;
	uint8_t *seen = xcalloc(rs->nmemo + 1, 1);
	size_t nt = 0, nslot = 0;
	uint32_t *fill;

	for (size_t i = 0; i < rs->nrules; i++)
		find_tallies(rs, rs->rules[i].cond, &tl, &nt, seen);
	free(seen);
	if (nt == 0)
		return;
	rs->ntally = (uint32_t)nt;
	rs->tallies = arena_alloc(&rs->arena, nt * sizeof(*rs->tallies));
	rs->tfirst = arena_alloc(&rs->arena,
	    (rs->natoms + 1) * sizeof(uint32_t));
	for (size_t t = 0; t < nt; t++) {
		struct tally *ty = &rs->tallies[t];

		for (size_t i = 0; i < tl[t]->nkids; i++) {
			const struct cond *kid = tl[t]->kids[i];

			if (kid->type == CT_ATOM &&
			    rs->atoms[kid->atom].kind == AT_KW) {
				ty->nkw++;
				rs->tfirst[kid->atom + 1]++;
			} else
				ty->nrest++;
		}
		ty->rest = arena_alloc(&rs->arena,
		    ty->nrest * sizeof(*ty->rest));
		ty->nrest = 0;
		nslot += ty->nkw;
	}
	for (size_t a = 0; a < rs->natoms; a++)
		rs->tfirst[a + 1] += rs->tfirst[a];
	rs->tslot = arena_alloc(&rs->arena, nslot * sizeof(uint32_t));
	fill = xcalloc(rs->natoms, sizeof(uint32_t));
	for (size_t t = 0; t < nt; t++) {
		struct tally *ty = &rs->tallies[t];

		for (size_t i = 0; i < tl[t]->nkids; i++) {
			struct cond *kid = tl[t]->kids[i];

			if (kid->type == CT_ATOM &&
			    rs->atoms[kid->atom].kind == AT_KW)
				rs->tslot[rs->tfirst[kid->atom] +
				    fill[kid->atom]++] = (uint32_t)t;
			else
				ty->rest[ty->nrest++] = kid;
		}
	}
	free(fill);
	free(tl);
}

static void
build_index(struct ruleset *rs)
{
	size_t nkw = 0;

	for (size_t i = 0; i < rs->natoms; i++)
		if (rs->atoms[i].kind == AT_KW)
			nkw++;
	rs->kwidx = wordidx_new(nkw);
	rs->kwac = ac_new();
	rs->litac = ac_new();
	for (size_t i = 0; i < rs->nrules; i++) {
		struct rule *r = &rs->rules[i];
		size_t n = 0;

		if (necessary(rs, r->cond, &r->trigger, &r->ntrigger) == -1) {
			r->always = 1;
			r->trigger = NULL;
			r->ntrigger = 0;
			rs->always = xrealloc(rs->always,
			    (rs->nalways + 1) * sizeof(uint32_t));
			rs->always[rs->nalways++] = (uint32_t)i;
			continue;
		}
		qsort(r->trigger, r->ntrigger, sizeof(uint32_t), cmp_u32);
		for (size_t j = 0; j < r->ntrigger; j++)
			if (j == 0 || r->trigger[j] != r->trigger[j - 1])
				r->trigger[n++] = r->trigger[j];
		r->ntrigger = n;
		{
			uint32_t *t = arena_alloc(&rs->arena,
			    n * sizeof(uint32_t));

			if (n > 0)
				memcpy(t, r->trigger, n * sizeof(uint32_t));
			free(r->trigger);
			r->trigger = t;
		}
		for (size_t j = 0; j < n; j++)
			rs->atoms[r->trigger[j]].nrules++;
	}
	/* each atom's list of the rules it triggers, in rule order */
	for (size_t i = 0; i < rs->natoms; i++) {
		struct atom *a = &rs->atoms[i];

		a->rules = arena_alloc(&rs->arena, a->nrules * sizeof(uint32_t));
		a->nrules = 0;
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];

		for (size_t j = 0; j < r->ntrigger; j++) {
			struct atom *a = &rs->atoms[r->trigger[j]];

			a->rules[a->nrules++] = (uint32_t)i;
		}
	}
	for (size_t i = 0; i < rs->natoms; i++) {
		struct atom *a = &rs->atoms[i];

		if (a->kind == AT_KW) {
			/* infix keywords need the automaton */
			if (wordidx_add(rs->kwidx, a->pat, a->patlen, a->joint,
			    a->star_pre, a->star_post, (uint32_t)i) == -1)
				ac_add(rs->kwac, a->pat, a->patlen,
				    (uint32_t)i);
		} else
			for (size_t j = 0; j < a->nlits; j++)
				ac_add(rs->litac, a->lits[j],
				    strlen(a->lits[j]), (uint32_t)i);
	}
	build_tallies(rs);
	wordidx_compile(rs->kwidx);
	ac_compile(rs->kwac);
	ac_compile(rs->litac);
}

static int
rule_file_name(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return 0;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	    (n > 6 && strcmp(name + n - 6, ".rules") == 0);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
collect(struct lctx *c, const char *file, const struct ynode *root)
{
	struct ruleset *rs = c->rs;

	if (root->type != YN_SEQ) {
		diag_error(c->d, file, root->line, root->col,
		    "a rule file is a list of entries (\"- id: ...\")");
		return;
	}
	for (size_t i = 0; i < root->n; i++) {
		const struct ynode *m = root->items[i], *v;
		const char *name;
		uint32_t dummy;

		if (m->type != YN_MAP) {
			diag_error(c->d, file, m->line, m->col,
			    "an entry is a mapping, not %s",
			    ynode_typename(m));
			continue;
		}
		if (ymap_get(m, "id") != NULL || ymap_get(m, "cue") != NULL) {
			c->pend = xrealloc(c->pend,
			    (c->npend + 1) * sizeof(*c->pend));
			c->pend[c->npend].node = m;
			c->pend[c->npend].file = file;
			c->pend[c->npend].is_cue = ymap_get(m, "id") == NULL;
			c->npend++;
			continue;
		}
		if ((v = ymap_get(m, "settings")) != NULL) {
			const struct ynode *t;
			long l;

			if (m->n != 1 || v->type != YN_MAP) {
				diag_error(c->d, file, m->line, m->col,
				    "settings is a mapping on its own");
				continue;
			}
			for (size_t j = 0; j < v->n; j++)
				if (strcmp(v->keys[j]->str, "threshold") != 0 &&
				    strcmp(v->keys[j]->str, "model-override") != 0 &&
				    strcmp(v->keys[j]->str, "model-forward") != 0 &&
				    strcmp(v->keys[j]->str, "model-veto") != 0)
					diag_error(c->d, file, v->keys[j]->line,
					    v->keys[j]->col,
					    "unknown setting \"%s\"",
					    v->keys[j]->str);
			if ((t = ymap_get(v, "threshold")) != NULL &&
			    ynode_int(t, file, 1, 1000, &l, c->d) == 0)
				rs->threshold = (int)l;
			/* 1000: in effect never */
			if ((t = ymap_get(v, "model-override")) != NULL &&
			    ynode_int(t, file, 0, 1000, &l, c->d) == 0)
				rs->model_override = (int)l;
			if ((t = ymap_get(v, "model-forward")) != NULL &&
			    ynode_int(t, file, 0, 1000, &l, c->d) == 0)
				rs->model_forward = (int)l;
			if ((t = ymap_get(v, "model-veto")) != NULL &&
			    ynode_int(t, file, 0, 1000, &l, c->d) == 0)
				rs->model_veto = (int)l;
			continue;
		}
		v = ymap_get(m, "list");
		if (v == NULL)
			v = ymap_get(m, "fragment");
		if (v == NULL) {
			diag_error(c->d, file, m->line, m->col, "an entry needs "
			    "id, cue, list, fragment or settings");
			continue;
		}
		if ((name = scalar(c, file, v, "a name")) == NULL)
			continue;
		if (*name == '\0' || strpbrk(name, " \t@") != NULL) {
			diag_error(c->d, file, v->line, v->col,
			    "bad name \"%s\"", name);
			continue;
		}
		if (smap_get(&c->defmap, name, &dummy) == 0) {
			diag_error(c->d, file, v->line, v->col,
			    "duplicate list or fragment \"%s\"", name);
			continue;
		}
		c->defs = xrealloc(c->defs, (c->ndefs + 1) * sizeof(*c->defs));
		memset(&c->defs[c->ndefs], 0, sizeof(*c->defs));
		c->defs[c->ndefs].name = xstrdup(name);
		c->defs[c->ndefs].kind = ymap_get(m, "list") ? DEF_LIST :
		    DEF_FRAGMENT;
		c->defs[c->ndefs].node = m;
		c->defs[c->ndefs].file = file;
		smap_put(&c->defmap, name, (uint32_t)c->ndefs);
		c->ndefs++;
	}
}

/* Appends from's diagnostics to d, emptying from. */
static void
diag_append(struct diag *d, struct diag *from)
{
	if (from->n > 0) {
		d->msgs = xrealloc(d->msgs, (d->n + from->n) *
		    sizeof(*d->msgs));
		memcpy(d->msgs + d->n, from->msgs, from->n * sizeof(*d->msgs));
		d->n += from->n;
	}
	d->nerrors += from->nerrors;
	d->nwarnings += from->nwarnings;
	free(from->msgs);
	memset(from, 0, sizeof(*from));
}

/* Loads every rule file under dir; caller frees with ruleset_free. */
struct ruleset *
ruleset_load(const char *dir, struct diag *d)
{
	struct lctx c;
	struct ruleset *rs;
	DIR *dp;
	struct dirent *de;
	char **names = NULL, *path;
	size_t nnames = 0, ncomp = 0;
	size_t errs0 = d->nerrors;
	struct diag dc = { 0 };		/* compiling's, after reading's */
	int wait = 0;

	rs = xcalloc(1, sizeof(*rs));
	rs->threshold = DEFAULT_THRESHOLD;
	rs->model_override = DEFAULT_MODEL_OVERRIDE;
	rs->model_forward = DEFAULT_MODEL_FORWARD;
	rs->model_veto = DEFAULT_MODEL_VETO;
	pthread_mutex_init(&rs->lock, NULL);
	memset(&c, 0, sizeof(c));
	c.rs = rs;
	c.d = d;
	rs->abbrev = abbrev_new();
	if ((dp = opendir(dir)) == NULL) {
		diag_error(d, dir, 0, 0, "%s", strerror(errno));
		goto fail;
	}
	while ((de = readdir(dp)) != NULL) {
		if (!rule_file_name(de->d_name))
			continue;
		if (nnames >= MAX_RULE_FILES) {
			diag_error(d, dir, 0, 0, "more than %d rule files",
			    MAX_RULE_FILES);
			break;
		}
		names = xrealloc(names, (nnames + 1) * sizeof(char *));
		names[nnames++] = xstrdup(de->d_name);
	}
	closedir(dp);
	if (nnames > 0)
		qsort(names, nnames, sizeof(char *), cmp_str);
	path = xasprintf("%s/abbreviations.txt", dir);
	if (access(path, F_OK) == 0)
		(void)abbrev_load(rs->abbrev, path, d);
	free(path);
	path = xasprintf("%s/" MODEL_FILE, dir);
	if (access(path, F_OK) == 0)
		rs->model = wordmodel_load(path, d);
	free(path);
	for (size_t i = 0; i < nnames; i++) {
		struct ynode *root;
		size_t ndefs0 = c.ndefs;

		path = xasprintf("%s/%s", dir, names[i]);
		rs->files = xrealloc(rs->files,
		    (rs->nfiles + 1) * sizeof(char *));
		rs->files[rs->nfiles++] = path;
		root = yaml_load_file(path, RULES_MAX_FILE, d);
		if (root == NULL)
			continue;
		collect(&c, path, root);
		/*
		 * Rules compile in file order, as soon as every list and
		 * fragment they refer to has been read: then the tree of a
		 * file without lists or fragments is freed at once, and a
		 * big rule set is never all in memory as YAML. A rule that
		 * refers to a name not read yet waits for the end, and
		 * every rule after it too. Compiling's diagnostics go after
		 * all of reading's, as if compiling came last.
		 */
		c.d = &dc;
		while (!wait && ncomp < c.npend) {
			c.epoch++;
			if (!conds_refs_known(&c, c.pend[ncomp].node))
				wait = 1;
			else
				compile_rule(&c, &c.pend[ncomp++]);
		}
		c.d = d;
		if (ncomp == c.npend && c.ndefs == ndefs0) {
			ynode_free(root);
			continue;
		}
		c.trees = xrealloc(c.trees, (c.ntrees + 1) * sizeof(*c.trees));
		c.trees[c.ntrees++] = root;
	}
	c.d = &dc;
	while (ncomp < c.npend)
		compile_rule(&c, &c.pend[ncomp++]);
	c.d = d;
	diag_append(d, &dc);
	/* lists and fragments nobody used still get checked */
	for (size_t i = 0; i < c.ndefs; i++)
		if (c.defs[i].cond == NULL && !c.defs[i].busy) {
			struct ynode fake;

			memset(&fake, 0, sizeof(fake));
			fake.type = YN_SCALAR;
			fake.line = c.defs[i].node->line;
			fake.col = c.defs[i].node->col;
			fake.str = xasprintf("@%s", c.defs[i].name);
			fake.len = strlen(fake.str);
			(void)resolve_ref(&c, c.defs[i].file, &fake);
			free(fake.str);
		}
	if (rs->nrules == 0 && d->nerrors == errs0)
		diag_error(d, dir, 0, 0, "no rules (*.yaml, *.yml, *.rules)");
fail:
	/* what only loading needed goes before the index is built */
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	for (size_t i = 0; i < c.ntrees; i++)
		ynode_free(c.trees[i]);
	free(c.trees);
	for (size_t i = 0; i < c.ndefs; i++)
		free(c.defs[i].name);
	free(c.defs);
	free(c.pend);
	smap_free(&c.defmap);
	smap_free(&c.atommap);
	smap_free(&c.idmap);
	if (d->nerrors != errs0) {
		ruleset_free(rs);
		return NULL;
	}
	build_index(rs);
	rs->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(rs->mctx, RE_MATCH_LIMIT);
	pcre2_set_depth_limit(rs->mctx, RE_DEPTH_LIMIT);
	pcre2_set_heap_limit(rs->mctx, RE_HEAP_LIMIT);
#ifdef __GLIBC__
	malloc_trim(0);		/* the YAML trees were big and are gone */
#endif
	return rs;
}
