/* rules.c: deciding on a message. Normalise, run the keyword and literal
 * prefilters, evaluate only the rules one of whose trigger atoms occurs,
 * add scores per category, apply urgency cues. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules_int.h"

#define NONE		UINT32_MAX
#define NCAT		WM_NCAT
#define MODEL_ID	"woordmodel"
#define MODEL_TITLE	"Woordmodel (geleerd uit de tuningberichten)"
#define MODEL_SPANS	3

enum { AS_FALSE = 0, AS_TRUE = 1, AS_MAYBE = 2 };

const char *const bart_categories[] = {
	"inbraak", "diefstal", "verdacht", "geweld", "brand", "overlast",
	"vandalisme", "verkeer", "openbare-ruimte", "sociaal", "vermist", NULL
};

const char *
urgency_name(enum urgency u)
{
	switch (u) {
	case URG_INFO:
		return "info";
	case URG_NORMAAL:
		return "normaal";
	case URG_SPOED:
		return "spoed";
	default:
		return NULL;
	}
}

int
urgency_parse(const char *s, enum urgency *out)
{
	if (strcmp(s, "info") == 0)
		*out = URG_INFO;
	else if (strcmp(s, "normaal") == 0)
		*out = URG_NORMAAL;
	else if (strcmp(s, "spoed") == 0)
		*out = URG_SPOED;
	else
		return -1;
	return 0;
}

int
category_index(const char *name)
{
	for (int i = 0; bart_categories[i] != NULL; i++)
		if (strcmp(bart_categories[i], name) == 0)
			return i;
	return -1;
}

const char *
category_lookup(const char *name)
{
	int i = category_index(name);

	return i < 0 ? NULL : bart_categories[i];
}

struct amatch {
	uint32_t	s, e;		/* normalised text */
	uint32_t	next;
};

/* Per-call working memory, pooled in the rule set. */
struct scratch {
	struct scratch		*next;
	struct normtext		 nt;
	uint32_t		 gen;
	uint32_t		*agen;		/* per atom: valid if == gen */
	uint8_t			*astate;
	uint8_t			*anm;
	uint32_t		*ahead;
	struct amatch		*m;
	size_t			 nm, mcap;
	uint32_t		*rgen;		/* per rule: candidate if == gen */
	uint32_t		*cand;
	size_t			 ncand;
	uint8_t			*fired;		/* per candidate */
	uint32_t		*mgen;		/* per list or fragment: its value
					 * is mval if == gen */
	uint8_t			*mval;
	uint32_t		*tgen;		/* per tally: count is tcount if
					 * == gen, else 0 */
	uint32_t		*tcount;
	pcre2_match_data	*md;
};

struct dctx {
	const struct ruleset	*rs;
	struct scratch		*x;
};

/* Working memory for one call, from the pool or new; give it back with
 * scratch_put (ruleset_free frees the pool). */
static struct scratch *
scratch_get(const struct ruleset *rs0)
{
	struct ruleset *rs = (struct ruleset *)rs0;	/* pool only */
	struct scratch *x;

	pthread_mutex_lock(&rs->lock);
	if ((x = rs->pool) != NULL)
		rs->pool = x->next;
	pthread_mutex_unlock(&rs->lock);
	if (x != NULL)
		return x;
	x = xcalloc(1, sizeof(*x));
	normtext_init(&x->nt);
	x->agen = xcalloc(rs->natoms + 1, sizeof(uint32_t));
	x->astate = xcalloc(rs->natoms + 1, 1);
	x->anm = xcalloc(rs->natoms + 1, 1);
	x->ahead = xcalloc(rs->natoms + 1, sizeof(uint32_t));
	x->rgen = xcalloc(rs->nrules + 1, sizeof(uint32_t));
	x->cand = xcalloc(rs->nrules + 1, sizeof(uint32_t));
	x->fired = xcalloc(rs->nrules + 1, 1);
	x->mgen = xcalloc(rs->nmemo + 1, sizeof(uint32_t));
	x->mval = xcalloc(rs->nmemo + 1, 1);
	x->tgen = xcalloc(rs->ntally + 1, sizeof(uint32_t));
	x->tcount = xcalloc(rs->ntally + 1, sizeof(uint32_t));
	x->md = pcre2_match_data_create(1, NULL);
	if (x->md == NULL)
		fatalx("out of memory");
	return x;
}

static void
scratch_free(struct scratch *x)
{
	normtext_free(&x->nt);
	free(x->agen);
	free(x->astate);
	free(x->anm);
	free(x->ahead);
	free(x->m);
	free(x->rgen);
	free(x->cand);
	free(x->fired);
	free(x->mgen);
	free(x->mval);
	free(x->tgen);
	free(x->tcount);
	pcre2_match_data_free(x->md);
	free(x);
}

static void
scratch_put(const struct ruleset *rs0, struct scratch *x)
{
	struct ruleset *rs = (struct ruleset *)rs0;

	pthread_mutex_lock(&rs->lock);
	x->next = rs->pool;
	rs->pool = x;
	pthread_mutex_unlock(&rs->lock);
}

static void
mark_candidates(struct dctx *c, const struct atom *a)
{
	struct scratch *x = c->x;

	for (size_t i = 0; i < a->nrules; i++) {
		uint32_t r = a->rules[i];

		if (x->rgen[r] != x->gen) {
			x->rgen[r] = x->gen;
			x->cand[x->ncand++] = r;
		}
	}
}

static void
atom_touch(struct dctx *c, uint32_t id, int state)
{
	struct scratch *x = c->x;

	x->agen[id] = x->gen;
	x->astate[id] = (uint8_t)state;
	x->anm[id] = 0;
	x->ahead[id] = NONE;
}

static void
atom_match(struct dctx *c, uint32_t id, size_t s, size_t e)
{
	struct scratch *x = c->x;

	x->astate[id] = AS_TRUE;
	if (x->anm[id] >= ATOM_MAX_MATCHES)
		return;
	if (x->nm == x->mcap) {
		x->mcap = x->mcap ? x->mcap * 2 : 64;
		x->m = xrealloc(x->m, x->mcap * sizeof(*x->m));
	}
	/* keep order of appearance: append at the tail */
	x->m[x->nm].s = (uint32_t)s;
	x->m[x->nm].e = (uint32_t)e;
	x->m[x->nm].next = NONE;
	if (x->ahead[id] == NONE)
		x->ahead[id] = (uint32_t)x->nm;
	else {
		uint32_t t = x->ahead[id];
		while (x->m[t].next != NONE)
			t = x->m[t].next;
		x->m[t].next = (uint32_t)x->nm;
	}
	x->nm++;
	x->anm[id]++;
}

/* A keyword occurred: one more in each long list it is in. */
static void
tally_add(struct dctx *c, uint32_t id)
{
	const struct ruleset *rs = c->rs;
	struct scratch *x = c->x;

	if (rs->ntally == 0)
		return;
	for (uint32_t i = rs->tfirst[id]; i < rs->tfirst[id + 1]; i++) {
		uint32_t t = rs->tslot[i];

		if (x->tgen[t] != x->gen) {
			x->tgen[t] = x->gen;
			x->tcount[t] = 0;
		}
		x->tcount[t]++;
	}
}

/* How many keyword kids of tallied list k occurred. */
static uint32_t
tally_count(const struct scratch *x, const struct cond *k)
{
	return x->tgen[k->tally - 1] == x->gen ? x->tcount[k->tally - 1] : 0;
}

static int
kw_hit(void *arg, uint32_t id, size_t s, size_t e)
{
	struct dctx *c = arg;
	const struct atom *a = &c->rs->atoms[id];
	const struct normtext *nt = &c->x->nt;

	if (!a->star_pre && nt->cbound[s] == 0)
		return 0;
	if (!a->star_post && nt->cbound[e] == 0)
		return 0;
	for (size_t p = s + 1; p < e; p++)
		if (nt->cbound[p] != 0 &&
		    (nt->cbound[p] != NC_SOFT || !a->joint[p - s]))
			return 0;
	if (c->x->agen[id] != c->x->gen) {
		atom_touch(c, id, AS_TRUE);
		mark_candidates(c, a);
		tally_add(c, id);
	}
	atom_match(c, id, nt->cmap[s], nt->cmap[e - 1] + 1);
	return 0;
}

static int
lit_hit(void *arg, uint32_t id, size_t s, size_t e)
{
	struct dctx *c = arg;

	(void)s;
	(void)e;
	if (c->x->agen[id] != c->x->gen) {
		atom_touch(c, id, AS_MAYBE);
		mark_candidates(c, &c->rs->atoms[id]);
	}
	return 0;
}

static void
regex_run(struct dctx *c, uint32_t id)
{
	struct atom *a = &((struct ruleset *)c->rs)->atoms[id];
	struct scratch *x = c->x;
	size_t len = x->nt.len, off = 0;
	PCRE2_SIZE *ov;
	uint32_t opts = x->nt.truncated ? PCRE2_NOTEOL : 0;
	int rc;

	if (len > RE_MAX_SUBJECT) {
		opts = PCRE2_NOTEOL;	/* the cut is not the end */
		len = RE_MAX_SUBJECT;
		while (len > 0 && ((unsigned char)x->nt.text[len] & 0xc0) ==
		    0x80)
			len--;
	}
	atom_touch(c, id, AS_FALSE);
	while (off <= len && x->anm[id] < ATOM_MAX_MATCHES) {
		rc = pcre2_match(a->re, (PCRE2_SPTR)x->nt.text, len, off, opts,
		    x->md, c->rs->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			/* limits or JIT stack: bounded cost, no match */
			atomic_fetch_add_explicit(&a->limit_hits, 1,
			    memory_order_relaxed);
			break;
		}
		ov = pcre2_get_ovector_pointer(x->md);
		atom_match(c, id, ov[0], ov[1]);
		off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
		while (off < len && ((unsigned char)x->nt.text[off] & 0xc0) ==
		    0x80)
			off++;
	}
}

static int
atom_true(struct dctx *c, uint32_t id)
{
	const struct atom *a = &c->rs->atoms[id];
	struct scratch *x = c->x;

	if (x->agen[id] != x->gen) {
		if (a->kind == AT_KW || a->nlits > 0)
			return 0;
		regex_run(c, id);
	} else if (x->astate[id] == AS_MAYBE)
		regex_run(c, id);
	return x->astate[id] == AS_TRUE;
}

static int eval(struct dctx *, const struct cond *);

/* Whether k is a keyword or regex the prefilter did not see in this
 * message: false without asking atom_true (the common case in long
 * lists). */
static inline int
unseen(const struct scratch *x, const struct cond *k)
{
	return k->type == CT_ATOM && !k->lazy && x->agen[k->atom] != x->gen;
}

/* Word numbers of the matches under k (not under a negation). */
static void
collect_words(struct dctx *c, const struct cond *k, uint32_t *w, size_t *n,
    size_t max, int kid)
{
	struct scratch *x = c->x;

	if (k->type == CT_NONE || unseen(x, k))
		return;
	if (k->type == CT_ATOM) {
		if (!atom_true(c, k->atom))
			return;
		for (uint32_t m = x->ahead[k->atom]; m != NONE && *n < max;
		    m = x->m[m].next) {
			w[*n * 2] = x->nt.word[x->m[m].s];
			w[*n * 2 + 1] = (uint32_t)kid;
			(*n)++;
		}
		return;
	}
	for (size_t i = 0; i < k->nkids; i++)
		collect_words(c, k->kids[i], w, n, max, kid);
}

static int
cmp_pair(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static int
within(struct dctx *c, const struct cond *k)
{
	uint32_t w[2 * 256];
	int cnt[64];
	size_t n = 0, l = 0, covered = 0;
	size_t nk = k->nkids < 64 ? k->nkids : 64;

	for (size_t i = 0; i < nk; i++) {
		if (!eval(c, k->kids[i]))
			return 0;
		collect_words(c, k->kids[i], w, &n, 256, (int)i);
	}
	qsort(w, n, 2 * sizeof(uint32_t), cmp_pair);
	memset(cnt, 0, sizeof(cnt));
	for (size_t r = 0; r < n; r++) {
		if (cnt[w[r * 2 + 1]]++ == 0)
			covered++;
		while (covered == nk) {
			if (w[r * 2] - w[l * 2] <= (uint32_t)k->n)
				return 1;
			if (--cnt[w[l * 2 + 1]] == 0)
				covered--;
			l++;
		}
	}
	return 0;
}

/* Whether at least want of the kids of tallied list k that are not
 * keywords hold. */
static int
tally_rest(struct dctx *c, const struct cond *k, int want)
{
	const struct tally *ty = &c->rs->tallies[k->tally - 1];

	for (uint32_t i = 0; i < ty->nrest; i++)
		if (!unseen(c->x, ty->rest[i]) && eval(c, ty->rest[i]) &&
		    --want <= 0)
			return 1;
	return 0;
}

static int
eval_cond(struct dctx *c, const struct cond *k)
{
	const struct scratch *x = c->x;
	size_t i;
	int n;

	switch (k->type) {
	case CT_ATOM:
		return atom_true(c, k->atom);
	case CT_ALL:
		for (i = 0; i < k->nkids; i++)
			if (unseen(x, k->kids[i]) || !eval(c, k->kids[i]))
				return 0;
		return 1;
	case CT_ANY:
		if (k->tally != 0)
			return tally_count(x, k) > 0 || tally_rest(c, k, 1);
		for (i = 0; i < k->nkids; i++)
			if (!unseen(x, k->kids[i]) && eval(c, k->kids[i]))
				return 1;
		return 0;
	case CT_NONE:
		if (k->tally != 0)
			return tally_count(x, k) == 0 && !tally_rest(c, k, 1);
		for (i = 0; i < k->nkids; i++)
			if (!unseen(x, k->kids[i]) && eval(c, k->kids[i]))
				return 0;
		return 1;
	case CT_ATLEAST:
		if (k->tally != 0) {
			n = (int)tally_count(x, k);
			return n >= k->n || tally_rest(c, k, k->n - n);
		}
		for (i = 0, n = 0; i < k->nkids; i++)
			if (!unseen(x, k->kids[i]) && eval(c, k->kids[i]) &&
			    ++n >= k->n)
				return 1;
		return 0;
	case CT_WITHIN:
		return within(c, k);
	}
	return 0;
}

/* Whether k holds for the message; a list or fragment is evaluated once
 * and remembered, however many rules refer to it. */
static int
eval(struct dctx *c, const struct cond *k)
{
	struct scratch *x = c->x;
	int v;

	if (k->memo == 0)
		return eval_cond(c, k);
	if (x->mgen[k->memo - 1] == x->gen)
		return x->mval[k->memo - 1];
	v = eval_cond(c, k);
	x->mgen[k->memo - 1] = x->gen;
	x->mval[k->memo - 1] = (uint8_t)v;
	return v;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Normalises, prefilters and evaluates the candidate rules: x->cand
 * (sorted) and x->fired. If all is set every rule is a candidate. */
static void
run(const struct ruleset *rs, struct scratch *x, const char *text,
    size_t len, int all)
{
	struct dctx c = { rs, x };

	if (++x->gen == 0) {
		memset(x->agen, 0, rs->natoms * sizeof(uint32_t));
		memset(x->rgen, 0, rs->nrules * sizeof(uint32_t));
		memset(x->mgen, 0, rs->nmemo * sizeof(uint32_t));
		memset(x->tgen, 0, rs->ntally * sizeof(uint32_t));
		x->gen = 1;
	}
	x->nm = 0;
	x->ncand = 0;
	normalise(rs->abbrev, text, len, &x->nt);
	wordidx_scan(rs->kwidx, x->nt.compact, x->nt.cbound, x->nt.clen,
	    x->nt.cword, x->nt.ncword, kw_hit, &c);
	ac_scan(rs->kwac, x->nt.compact, x->nt.clen, kw_hit, &c);
	ac_scan(rs->litac, x->nt.text, x->nt.len, lit_hit, &c);
	for (size_t i = 0; i < rs->nalways; i++)
		if (x->rgen[rs->always[i]] != x->gen) {
			x->rgen[rs->always[i]] = x->gen;
			x->cand[x->ncand++] = rs->always[i];
		}
	if (all)
		for (size_t i = 0; i < rs->nrules; i++)
			if (x->rgen[i] != x->gen) {
				x->rgen[i] = x->gen;
				x->cand[x->ncand++] = (uint32_t)i;
			}
	qsort(x->cand, x->ncand, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < x->ncand; i++)
		x->fired[i] = (uint8_t)eval(&c, rs->rules[x->cand[i]].cond);
}

static int
cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static void
collect_spans(struct dctx *c, const struct cond *k, struct span *sp,
    size_t *n)
{
	struct scratch *x = c->x;

	if (k->type == CT_NONE || unseen(x, k))
		return;
	if (k->type == CT_ATOM) {
		if (!atom_true(c, k->atom))
			return;
		for (uint32_t m = x->ahead[k->atom]; m != NONE &&
		    *n < HIT_MAX_SPANS * 2; m = x->m[m].next) {
			norm_orig_span(&x->nt, x->m[m].s, x->m[m].e,
			    &sp[*n].start, &sp[*n].end);
			(*n)++;
		}
		return;
	}
	for (size_t i = 0; i < k->nkids; i++)
		collect_spans(c, k->kids[i], sp, n);
}

/* Spans of a fired rule in the original text, sorted and merged; caller
 * frees *out. */
static size_t
rule_spans(struct dctx *c, const struct rule *r, struct span **out)
{
	struct span sp[HIT_MAX_SPANS * 2];
	size_t n = 0, k = 0;

	collect_spans(c, r->cond, sp, &n);
	qsort(sp, n, sizeof(*sp), cmp_span);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && sp[i].start < sp[k - 1].end) {
			if (sp[i].end > sp[k - 1].end)
				sp[k - 1].end = sp[i].end;
			continue;
		}
		if (k == HIT_MAX_SPANS)
			break;
		sp[k++] = sp[i];
	}
	*out = k ? xcalloc(k, sizeof(**out)) : NULL;
	if (k)
		memcpy(*out, sp, k * sizeof(**out));
	return k;
}

/* Scores and cues of the fired rules into out. */
/* Sorts spans and merges those that overlap; returns the new count. */
static size_t
merge_spans(struct span *sp, size_t n)
{
	size_t k = 0;

	if (n < 2)
		return n;
	qsort(sp, n, sizeof(*sp), cmp_span);
	for (size_t i = 1; i < n; i++) {
		if (sp[i].start <= sp[k].end) {
			if (sp[i].end > sp[k].end)
				sp[k].end = sp[i].end;
		} else
			sp[++k] = sp[i];
	}
	return k + 1;
}

/* What the word model did to a decision. */
enum { MW_NONE = MODEL_KEPT, MW_OVERRIDE = MODEL_OTHER,
    MW_FORWARD = MODEL_FORWARDED, MW_VETO = MODEL_VETOED };

/* Lets the word model change the rules' choice *best (-1: none): another
 * category if its words speak for it by more than model_override, one
 * where the rules had none by more than model_forward over geen, none if
 * geen beats the rules' category by more than model_veto. A category
 * with a vetoing rule (negative score) that fired is never the model's.
 * *margin: the log-odds by which it won. */
static int
model_step(const struct ruleset *rs, struct dctx *c, const int *vetoed,
    int *best, double *margin)
{
	double s[WM_NCLASS];
	int b = WM_GEEN;

	if (rs->model == NULL)
		return MW_NONE;
	wordmodel_score(rs->model, &c->x->nt, s);
	/* a category a rule vetoed (negative score) is not the model's */
	for (int i = 0; i < WM_NCAT; i++)
		if (!vetoed[i] && s[i] > s[b])
			b = i;
	if (*best >= 0) {
		if (b == WM_GEEN && s[b] - s[*best] > rs->model_veto) {
			*margin = s[b] - s[*best];
			*best = -1;
			return MW_VETO;
		}
		if (b != WM_GEEN && b != *best &&
		    s[b] - s[*best] > rs->model_override) {
			*margin = s[b] - s[*best];
			*best = b;
			return MW_OVERRIDE;
		}
		return MW_NONE;
	}
	if (b != WM_GEEN && s[b] - s[WM_GEEN] > rs->model_forward) {
		*margin = s[b] - s[WM_GEEN];
		*best = b;
		return MW_FORWARD;
	}
	return MW_NONE;
}

/* The hit that shows the word model chose category cat: the words that
 * spoke most for it, in the original text. */
static void
model_hit(const struct ruleset *rs, struct dctx *c, int cat, double margin,
    struct rule_hit *h)
{
	size_t s[MODEL_SPANS], e[MODEL_SPANS], n;
	double g[MODEL_SPANS];

	h->id = MODEL_ID;
	h->title = MODEL_TITLE;
	h->category = bart_categories[cat];
	h->urgency = URG_NORMAAL;
	h->score = margin > 1000 ? 1000 : (int)margin;
	n = wordmodel_top(rs->model, &c->x->nt, cat, WM_GEEN, s, e, g,
	    MODEL_SPANS);
	h->spans = n ? xcalloc(n, sizeof(*h->spans)) : NULL;
	for (size_t i = 0; i < n; i++)
		norm_orig_span(&c->x->nt, s[i], e[i], &h->spans[i].start,
		    &h->spans[i].end);
	h->nspans = merge_spans(h->spans, n);
}

static void
decide(const struct ruleset *rs, struct dctx *c, struct decision *out)
{
	struct scratch *x = c->x;
	int score[NCAT], has[NCAT], top[NCAT], vetoed[NCAT];
	enum urgency maxurg[NCAT], urg, raise = URG_NONE;
	int best = -1, lowinfo = 0, lownorm = 0, mway;
	double margin = 0;
	size_t nh = 0, el;

	memset(score, 0, sizeof(score));
	memset(has, 0, sizeof(has));
	memset(maxurg, 0, sizeof(maxurg));
	memset(top, 0, sizeof(top));
	memset(vetoed, 0, sizeof(vetoed));
	for (size_t i = 0; i < x->ncand; i++) {
		const struct rule *r = &rs->rules[x->cand[i]];

		if (!x->fired[i] || r->is_cue)
			continue;
		atomic_fetch_add_explicit(&((struct rule *)r)->hits, 1,
		    memory_order_relaxed);
		nh++;
		if (r->testing)
			continue;
		score[r->catidx] += r->score;
		has[r->catidx] = 1;
		if (r->score > top[r->catidx])
			top[r->catidx] = r->score;
		if (r->score > 0 && r->urgency > maxurg[r->catidx])
			maxurg[r->catidx] = r->urgency;
		if (r->score < 0)
			vetoed[r->catidx] = 1;
	}
	for (int i = 0; i < NCAT; i++) {
		if (!has[i] || score[i] < rs->threshold || maxurg[i] == URG_NONE)
			continue;
		/* ties: the strongest single rule, then urgency, then order */
		if (best < 0 || score[i] > score[best] ||
		    (score[i] == score[best] && (top[i] > top[best] ||
		    (top[i] == top[best] && maxurg[i] > maxurg[best]))))
			best = i;
	}
	mway = model_step(rs, c, vetoed, &best, &margin);
	if (mway != MW_NONE && best >= 0 && maxurg[best] == URG_NONE)
		maxurg[best] = URG_NORMAAL;
	out->hits = xcalloc(nh + 1, sizeof(*out->hits));
	out->nhits = 0;
	for (size_t i = 0; i < x->ncand; i++) {
		const struct rule *r = &rs->rules[x->cand[i]];
		struct rule_hit *h;

		if (!x->fired[i])
			continue;
		if (r->is_cue) {
			if (r->testing || best < 0 || (r->cue_cats &&
			    !(r->cue_cats & (1u << best))))
				continue;
			if (r->cue_raise) {
				if (r->cue_target > raise)
					raise = r->cue_target;
			} else if (r->cue_target == URG_INFO)
				lowinfo = 1;
			else
				lownorm = 1;
			continue;
		}
		h = &out->hits[out->nhits++];
		h->id = r->id;
		h->title = r->title;
		h->category = r->category;
		h->urgency = r->urgency;
		h->score = r->score;
		h->testing = r->testing;
		h->nspans = rule_spans(c, r, &h->spans);
	}
	if (mway == MW_OVERRIDE || mway == MW_FORWARD)
		model_hit(rs, c, best, margin, &out->hits[out->nhits++]);
	if (best >= 0) {
		urg = maxurg[best];
		if (lowinfo)
			urg = urg < URG_INFO ? urg : URG_INFO;
		else if (raise != URG_NONE)
			urg = urg > raise ? urg : raise;
		else if (lownorm)
			urg = urg < URG_NORMAAL ? urg : URG_NORMAAL;
		out->category = bart_categories[best];
		out->urgency = urg;
		out->score = score[best];
		/* chosen by the word model: its margin is the score */
		if ((mway == MW_OVERRIDE || mway == MW_FORWARD) &&
		    (int)margin > out->score)
			out->score = margin > 1000 ? 1000 : (int)margin;
	}
	out->model = mway;
	el = x->nt.len < EXCERPT_MAX ? x->nt.len : EXCERPT_MAX;
	while (el > 0 && el < x->nt.len &&
	    ((unsigned char)x->nt.text[el] & 0xc0) == 0x80)
		el--;
	out->excerpt = xstrndup(x->nt.text, el);
}

int
ruleset_decide(const struct ruleset *rs, const char *text, size_t len,
    struct decision *out)
{
	struct scratch *x;
	struct dctx c;

	memset(out, 0, sizeof(*out));
	if (rs == NULL || (text == NULL && len > 0))
		return -1;
	x = scratch_get(rs);
	c.rs = rs;
	c.x = x;
	run(rs, x, text ? text : "", len, 0);
	decide(rs, &c, out);
	scratch_put(rs, x);
	return 0;
}

void
decision_clear(struct decision *d)
{
	for (size_t i = 0; i < d->nhits; i++)
		free(d->hits[i].spans);
	free(d->hits);
	free(d->excerpt);
	memset(d, 0, sizeof(*d));
}

size_t
ruleset_count(const struct ruleset *rs)
{
	size_t n = 0;

	for (size_t i = 0; rs && i < rs->nrules; i++)
		if (!rs->rules[i].is_cue)
			n++;
	return n;
}

void
ruleset_foreach_stat(const struct ruleset *rs,
    void (*fn)(void *arg, const char *id, const char *status,
    uint64_t hits), void *arg)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];

		if (r->is_cue)
			continue;
		fn(arg, r->id, r->testing ? "testing" : "stable",
		    atomic_load_explicit(&((struct rule *)r)->hits,
		    memory_order_relaxed));
	}
}

void
ruleset_free(struct ruleset *rs)
{
	struct scratch *x;

	if (rs == NULL)
		return;
	while ((x = rs->pool) != NULL) {
		rs->pool = x->next;
		scratch_free(x);
	}
	/* ids, titles, examples' text, conditions, atom strings and the
	 * index lists live in the arena */
	free(rs->rules);
	for (size_t i = 0; i < rs->natoms; i++) {
		struct atom *a = &rs->atoms[i];

		if (a->kind != AT_RE)
			continue;
		pcre2_code_free(a->re);
		for (size_t j = 0; j < a->nlits; j++)
			free(a->lits[j]);
		free(a->lits);
	}
	free(rs->atoms);
	arena_free(&rs->arena);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs->always);
	wordidx_free(rs->kwidx);
	ac_free(rs->kwac);
	ac_free(rs->litac);
	abbrev_free(rs->abbrev);
	wordmodel_free(rs->model);
	if (rs->mctx)
		pcre2_match_context_free(rs->mctx);
	pthread_mutex_destroy(&rs->lock);
	free(rs);
}

int
ruleset_threshold(const struct ruleset *rs)
{
	return rs->threshold;
}

static int
any_atom_true(struct dctx *c, const struct cond *k)
{
	if (k->type == CT_NONE)
		return 0;
	if (k->type == CT_ATOM)
		return atom_true(c, k->atom);
	for (size_t i = 0; i < k->nkids; i++)
		if (any_atom_true(c, k->kids[i]))
			return 1;
	return 0;
}

/* What matched under k, as "src «original»" items. */
static void
describe(struct dctx *c, const struct cond *k, const char *text,
    struct buf *b, int *n)
{
	struct scratch *x = c->x;

	if (k->type == CT_ATOM) {
		uint32_t m;
		size_t os, oe;

		if (!atom_true(c, k->atom) ||
		    (m = x->ahead[k->atom]) == NONE || *n >= 8)
			return;
		norm_orig_span(&x->nt, x->m[m].s, x->m[m].e, &os, &oe);
		if (oe - os > 60)
			oe = os + 60;
		buf_printf(b, "%s%s \xc2\xab%.*s\xc2\xbb", (*n)++ ? ", " : "",
		    c->rs->atoms[k->atom].src, (int)(oe - os), text + os);
		return;
	}
	for (size_t i = 0; i < k->nkids; i++)
		describe(c, k->kids[i], text, b, n);
}

static void
list_items(const struct ruleset *rs, const struct cond *k, struct buf *b)
{
	for (size_t i = 0; i < k->nkids && i < 6; i++) {
		const struct cond *kid = k->kids[i];

		buf_printf(b, "%s%s", i ? ", " : "", kid->type == CT_ATOM ?
		    rs->atoms[kid->atom].src : kid->label[0] == '@' ?
		    kid->label : "{...}");
	}
	if (k->nkids > 6)
		buf_printf(b, ", ... (%u in all)", k->nkids);
}

/* The word model's line in an explanation: its three likeliest classes
 * and what it did to the decision. */
static void
explain_model(const struct ruleset *rs, struct dctx *c,
    const struct decision *out,
    void (*fn)(void *arg, const struct rule_explain *e), void *arg)
{
	static const char *const did[] = { "kept the rules' decision",
	    "chose another category than the rules",
	    "forwarded what no rule category reached",
	    "kept from a desk what the rules would forward" };
	double s[WM_NCLASS];
	int order[WM_NCLASS], b;
	struct rule_explain e;
	struct buf why = { 0 };
	struct span sp[MODEL_SPANS];
	size_t st[MODEL_SPANS], en[MODEL_SPANS], n;
	double g[MODEL_SPANS];

	wordmodel_score(rs->model, &c->x->nt, s);
	for (int i = 0; i < WM_NCLASS; i++)
		order[i] = i;
	for (int i = 1; i < WM_NCLASS; i++)
		for (int j = i; j > 0 && s[order[j]] > s[order[j - 1]]; j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	b = order[0];
	buf_printf(&why, "    %s (thresholds: other category %d, forward %d, "
	    "veto %d)\n    log-odds:", did[out->model], rs->model_override,
	    rs->model_forward, rs->model_veto);
	for (int i = 0; i < 3; i++)
		buf_printf(&why, " %s %.1f", order[i] == WM_GEEN ? "geen" :
		    bart_categories[order[i]], s[order[i]]);
	buf_puts(&why, "\n");
	memset(&e, 0, sizeof(e));
	e.id = MODEL_ID;
	e.title = MODEL_TITLE;
	e.category = b == WM_GEEN ? "geen" : bart_categories[b];
	e.urgency = URG_NORMAAL;
	e.score = (int)(s[b] - s[order[1]]);
	e.fired = out->model != MODEL_KEPT;
	e.why = why.data;
	n = b == WM_GEEN ? 0 : wordmodel_top(rs->model, &c->x->nt, b, WM_GEEN,
	    st, en, g, MODEL_SPANS);
	for (size_t i = 0; i < n; i++)
		norm_orig_span(&c->x->nt, st[i], en[i], &sp[i].start,
		    &sp[i].end);
	e.nspans = merge_spans(sp, n);
	e.spans = sp;
	fn(arg, &e);
	buf_free(&why);
}

void
ruleset_normalise(const struct ruleset *rs, const char *text, size_t len,
    struct normtext *nt)
{
	normalise(rs->abbrev, text, len, nt);
}

void
ruleset_model_size(const struct ruleset *rs, size_t *features,
    unsigned long *messages)
{
	*features = rs->model ? wordmodel_features(rs->model) : 0;
	*messages = rs->model ? wordmodel_messages(rs->model) : 0;
}

int
ruleset_explain(const struct ruleset *rs, const char *text, size_t len,
    void (*fn)(void *arg, const struct rule_explain *e), void *arg,
    struct decision *out)
{
	struct scratch *x;
	struct dctx c;
	const char *kind[] = { "", "all of", "any of", "none of",
	    "at least", "within" };

	memset(out, 0, sizeof(*out));
	if (rs == NULL)
		return -1;
	x = scratch_get(rs);
	c.rs = rs;
	c.x = x;
	if (len > NORM_MAX_INPUT)
		len = NORM_MAX_INPUT;
	run(rs, x, text, len, 1);
	for (size_t i = 0; i < x->ncand; i++) {
		const struct rule *r = &rs->rules[x->cand[i]];
		struct rule_explain e;
		struct buf b = { 0 };
		struct span *sp = NULL;
		char eff[64];

		if (!x->fired[i] && !any_atom_true(&c, r->cond))
			continue;
		for (size_t j = 0; j < r->cond->nkids; j++) {
			const struct cond *k = r->cond->kids[j];
			int ok = eval(&c, k), n = 0;

			if (k->type == CT_NONE)
				buf_printf(&b, "    %s %s: ", ok ? "ok" :
				    "BLOCKED", k->label);
			else
				buf_printf(&b, "    %s %s: ", ok ? "yes" : "NO",
				    k->label);
			if (k->type == CT_ATLEAST || k->type == CT_WITHIN)
				buf_printf(&b, "%s %d of ", kind[k->type], k->n);
			if ((k->type == CT_NONE) == !ok || k->type == CT_NONE)
				describe(&c, k, text, &b, &n);
			if (n == 0) {
				buf_printf(&b, "%s", k->type == CT_NONE ?
				    "nothing of " : "no match for ");
				list_items(rs, k, &b);
			}
			buf_puts(&b, "\n");
		}
		memset(&e, 0, sizeof(e));
		e.id = r->id;
		e.title = r->title;
		e.category = r->category;
		e.cue = r->is_cue;
		if (r->is_cue) {
			snprintf(eff, sizeof(eff), "%s to %s", r->cue_raise ?
			    "raise" : "lower", urgency_name(r->cue_target));
			e.cue_effect = eff;
		}
		e.testing = r->testing;
		e.score = r->score;
		e.urgency = r->urgency;
		e.fired = x->fired[i];
		e.why = b.data ? b.data : "";
		if (e.fired)
			e.nspans = rule_spans(&c, r, &sp);
		e.spans = sp;
		fn(arg, &e);
		free(sp);
		buf_free(&b);
	}
	/* a decision as ruleset_decide makes it (candidates only) */
	for (size_t i = 0; i < x->ncand; i++)
		if (x->fired[i] && rs->rules[x->cand[i]].always == 0 &&
		    !any_atom_true(&c, rs->rules[x->cand[i]].cond))
			x->fired[i] = 0;
	decide(rs, &c, out);
	if (rs->model != NULL)
		explain_model(rs, &c, out, fn, arg);
	scratch_put(rs, x);
	return 0;
}

/* A string that makes a backtracking regex blow up, built from its own
 * characters: head, then n characters repeating the unit, then tail.
 * Caller frees. */
static char *
stress_subject(const char *head, const char *unit, const char *tail,
    size_t n)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = xmalloc(hl + n + tl + 1);

	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		s[hl + i] = unit[i % ul];
	memcpy(s + hl + n, tail, tl + 1);
	return s;
}

/* Matches subject against a's regex; reports it when a limit is hit.
 * Returns 1 if reported. */
static int
stress_one(const struct ruleset *rs, const struct atom *a,
    pcre2_match_data *md, char *subject, struct diag *d, size_t *nerr)
{
	int rc = pcre2_match(a->re, (PCRE2_SPTR)subject, strlen(subject), 0,
	    0, md, rs->mctx);
	char shown[16];

	snprintf(shown, sizeof(shown), "%s", subject);
	free(subject);
	if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH)
		return 0;
	{
		PCRE2_UCHAR msg[128];

		pcre2_get_error_message(rc, msg, sizeof(msg));
		diag_error(d, a->file, a->line, a->col, "regex %s backtracks "
		    "catastrophically (on \"%s...\": %s); simplify it",
		    a->src, shown, (char *)msg);
	}
	(*nerr)++;
	return 1;
}

/* Tries runs of each character of the regex (and of pairs of them, and
 * after each of them) against it, with tails that make a match fail late:
 * a regex that hits the match limit on any of them is reported. */
static void
stress_regex(const struct ruleset *rs, const struct atom *a, struct diag *d,
    size_t *nerr)
{
	static const char *tails[] = { "", "!", "\x01", "a!", " !" };
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	char chars[64];
	size_t nc = 0;
	const char *p;

	for (p = "a1 "; *p; p++)
		chars[nc++] = *p;
	for (p = a->src; *p && nc < sizeof(chars) - 1; p++)
		if (((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) &&
		    memchr(chars, *p, nc) == NULL)
			chars[nc++] = *p;
	for (size_t i = 0; i < nc; i++) {
		char unit[2] = { chars[i], '\0' };

		for (size_t t = 0; t < nitems(tails); t++)
			if (stress_one(rs, a, md, stress_subject("", unit,
			    tails[t], 3000), d, nerr))
				goto out;
		/* Pairs from the first characters only: the blow-ups come
		 * from short ambiguous groups, and checking stays quick. */
		for (size_t j = 0; i < 10 && j < 10 && j < nc; j++) {
			char pair[3] = { chars[i], chars[j], '\0' };
			char head[2] = { chars[j], '\0' };

			if (j != i && stress_one(rs, a, md, stress_subject("",
			    pair, "!", 1000), d, nerr))
				goto out;
			/* A required last literal present, the end wrong. */
			for (size_t k = 0; j != i && nc <= 10 && k < nc; k++) {
				char tail[3] = { chars[k], '!', '\0' };
				if (stress_one(rs, a, md, stress_subject("",
				    pair, tail, 1000), d, nerr))
					goto out;
			}
			if (j != i && stress_one(rs, a, md, stress_subject(head,
			    unit, "!", 300), d, nerr))
				goto out;
		}
	}
out:
	pcre2_match_data_free(md);
}

static int
rule_fires(const struct ruleset *rs, struct scratch *x, size_t ri,
    const char *text)
{
	run(rs, x, text, strlen(text), 0);
	for (size_t i = 0; i < x->ncand; i++)
		if (x->cand[i] == ri)
			return x->fired[i];
	return 0;
}

size_t
ruleset_check(const struct ruleset *rs, struct diag *d)
{
	struct scratch *x = scratch_get(rs);
	size_t nerr = 0;

	for (size_t i = 0; i < rs->natoms; i++) {
		const struct atom *a = &rs->atoms[i];

		if (a->kind == AT_RE)
			stress_regex(rs, a, d, &nerr);
		else if (a->patlen < 3 && !(a->pat[0] >= '0' &&
		    a->pat[0] <= '9'))
			diag_warning(d, a->file, a->line, a->col,
			    "keyword \"%s\" is very short", a->src);
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];

		if (r->nex == 0) {
			diag_error(d, r->file, r->line, r->col,
			    "%s has no examples", r->id);
			nerr++;
		}
		if (r->ncex == 0)
			diag_warning(d, r->file, r->line, r->col,
			    "%s has no counter-examples", r->id);
		if (r->always)
			diag_warning(d, r->file, r->line, r->col,
			    "%s has no keyword or regex literal to prefilter "
			    "on; it is evaluated for every message", r->id);
		if (r->category && r->score > 0 && r->score < rs->threshold)
			diag_warning(d, r->file, r->line, r->col,
			    "%s scores %d, below the threshold %d: on its own "
			    "it never decides a category (its examples fire "
			    "it, but need other rules to be forwarded)", r->id,
			    r->score, rs->threshold);
		for (size_t j = 0; j < r->nex; j++)
			if (!rule_fires(rs, x, i, r->ex[j].text)) {
				diag_error(d, r->file, r->ex[j].line,
				    r->ex[j].col, "%s does not fire on its "
				    "example \"%s\"", r->id, r->ex[j].text);
				nerr++;
			}
		for (size_t j = 0; j < r->ncex; j++)
			if (rule_fires(rs, x, i, r->cex[j].text)) {
				diag_error(d, r->file, r->cex[j].line,
				    r->cex[j].col, "%s fires on its "
				    "counter-example \"%s\"", r->id,
				    r->cex[j].text);
				nerr++;
			}
	}
	scratch_put(rs, x);
	return nerr;
}
