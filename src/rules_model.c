/* rules_model.c: the word model (see rules_model.h). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_model.h"

#define FNV_OFF		UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME	UINT64_C(0x100000001b3)

static uint64_t
fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

static const char *
class_name(int c)
{
	return c == WM_GEEN ? "geen" : bart_categories[c];
}

/* One feature of a message: its hash and where its parts are in the
 * normalised text (b_* unused unless a pair; a suffix has suffix set). */
struct feat {
	uint64_t	hash;
	size_t		a_s, a_e, b_s, b_e;
	int		pair;
	int		suffix;
};

static int
cmp_feat(const void *a, const void *b)
{
	const struct feat *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* The distinct features of nt into *out (caller frees); returns the count. */
static size_t
features(const struct normtext *nt, struct feat **out)
{
	size_t *ws = NULL, *we = NULL, nw = 0, cap = 0, nf = 0, k;
	struct feat *f;

	for (size_t i = 0; i < nt->len && nw < WM_MAX_WORDS; ) {
		size_t j;

		if (nt->cls[i] != NC_WORD) {
			i++;
			continue;
		}
		for (j = i; j < nt->len && nt->cls[j] == NC_WORD; j++)
			;
		if (nw == cap) {
			cap = cap ? 2 * cap : 64;
			ws = xrealloc(ws, cap * sizeof(*ws));
			we = xrealloc(we, cap * sizeof(*we));
		}
		ws[nw] = i;
		we[nw] = j;
		nw++;
		i = j;
	}
	f = nw ? xcalloc(5 * nw, sizeof(*f)) : NULL;
	for (size_t i = 0; i < nw; i++) {
		const char *w = nt->text + ws[i];
		size_t len = we[i] - ws[i];

		f[nf].hash = fnv(FNV_OFF, w, len);
		f[nf].a_s = ws[i];
		f[nf].a_e = we[i];
		nf++;
		if (i + 1 < nw) {
			uint64_t h = fnv(FNV_OFF, w, len);

			h = fnv(h, " ", 1);
			f[nf].hash = fnv(h, nt->text + ws[i + 1],
			    we[i + 1] - ws[i + 1]);
			f[nf].a_s = ws[i];
			f[nf].a_e = we[i];
			f[nf].b_s = ws[i + 1];
			f[nf].b_e = we[i + 1];
			f[nf].pair = 1;
			nf++;
		}
		if (len >= 7)
			for (size_t sfx = 4; sfx <= 6; sfx++) {
				size_t s = we[i] - sfx;

				/* a suffix starts at a character */
				if (((unsigned char)nt->text[s] & 0xc0) == 0x80)
					continue;
				f[nf].hash = fnv(fnv(FNV_OFF, "*", 1),
				    nt->text + s, sfx);
				f[nf].a_s = s;
				f[nf].a_e = we[i];
				f[nf].suffix = 1;
				nf++;
			}
	}
	free(ws);
	free(we);
	if (nf > 1) {
		qsort(f, nf, sizeof(*f), cmp_feat);
		k = 1;
		for (size_t i = 1; i < nf; i++)
			if (f[i].hash != f[k - 1].hash)
				f[k++] = f[i];
		nf = k;
	}
	*out = f;
	return nf;
}

/* An open-addressing table hash -> index. */
struct htab {
	uint64_t	*keys;
	uint32_t	*vals;		/* index + 1; 0 = empty */
	size_t		 cap;		/* power of two */
	size_t		 n;
};

static void htab_put(struct htab *t, uint64_t key, uint32_t val);

static void
htab_grow(struct htab *t)
{
	struct htab o = *t;

	t->cap = o.cap ? 2 * o.cap : 1024;
	t->keys = xcalloc(t->cap, sizeof(*t->keys));
	t->vals = xcalloc(t->cap, sizeof(*t->vals));
	t->n = 0;
	for (size_t i = 0; i < o.cap; i++)
		if (o.vals[i])
			htab_put(t, o.keys[i], o.vals[i] - 1);
	free(o.keys);
	free(o.vals);
}

/* Index of key, or -1. */
static long
htab_get(const struct htab *t, uint64_t key)
{
	if (t->cap == 0)
		return -1;
	for (size_t i = key & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (t->vals[i] == 0)
			return -1;
		if (t->keys[i] == key)
			return (long)t->vals[i] - 1;
	}
}

static void
htab_put(struct htab *t, uint64_t key, uint32_t val)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap)
		htab_grow(t);
	for (i = key & (t->cap - 1); t->vals[i] != 0;
	    i = (i + 1) & (t->cap - 1))
		;
	t->keys[i] = key;
	t->vals[i] = val + 1;
	t->n++;
}

static void
htab_free(struct htab *t)
{
	free(t->keys);
	free(t->vals);
}

struct wordmodel {
	struct htab	 tab;
	float		*w;		/* nfeat x WM_NCLASS weights */
	size_t		 nfeat;
	double		 prior[WM_NCLASS];
	unsigned long	 nmsg;
};

size_t
wordmodel_features(const struct wordmodel *m)
{
	return m->nfeat;
}

unsigned long
wordmodel_messages(const struct wordmodel *m)
{
	return m->nmsg;
}

void
wordmodel_free(struct wordmodel *m)
{
	if (m == NULL)
		return;
	htab_free(&m->tab);
	free(m->w);
	free(m);
}

/* Parses a non-negative count of at most 1e9 from s[0..n); -1 if bad. */
static long
parse_count(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 1000000000L ? v : -1;
}

static int
class_index(const char *s, size_t n)
{
	for (int c = 0; c < WM_NCLASS; c++)
		if (strlen(class_name(c)) == n &&
		    memcmp(class_name(c), s, n) == 0)
			return c;
	return -1;
}

struct wordmodel *
wordmodel_load(const char *path, struct diag *d)
{
	struct wordmodel *m;
	char *buf, *p, *end;
	size_t len, errs0 = d->nerrors, cap = 0;
	int line = 0;
	int have_classes = 0, have_msgs = 0;
	long n[WM_NCLASS];
	uint32_t (*cnt)[WM_NCLASS] = NULL;

	if ((buf = read_file(path, WM_MAX_FILE, &len)) == NULL) {
		diag_error(d, path, 0, 0, "cannot read the word model: %s",
		    errno == EFBIG ? "file too big" : strerror(errno));
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	memset(n, 0, sizeof(n));
	for (p = buf, end = buf + len; p < end && d->nerrors - errs0 < 20; ) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end, *tab;
		size_t fl;

		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (e == p || *p == '#')
			goto next;
		for (char *q = p; q < e; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t') {
				diag_error(d, path, line, (int)(q - p) + 1,
				    "control character in the word model");
				goto next;
			}
		tab = memchr(p, '\t', (size_t)(e - p));
		if (tab == NULL) {
			diag_error(d, path, line, 1, "expected a TAB after "
			    "the feature");
			goto next;
		}
		fl = (size_t)(tab - p);
		if (fl == 7 && memcmp(p, "classes", 7) == 0) {
			/* the categories this model was learned for */
			char *q = tab + 1;
			int c = 0;

			while (q < e) {
				char *sp = q;

				while (sp < e && *sp != ' ' && *sp != '\t')
					sp++;
				if (sp > q) {
					if (c >= WM_NCLASS ||
					    class_index(q, (size_t)(sp - q)) != c) {
						diag_error(d, path, line,
						    (int)(q - p) + 1,
						    "the classes are not bart's "
						    "categories and geen, in "
						    "order: learn the model anew");
						goto next;
					}
					c++;
				}
				q = sp + 1;
			}
			if (c != WM_NCLASS) {
				diag_error(d, path, line, 1, "expected %d "
				    "classes", WM_NCLASS);
				goto next;
			}
			have_classes = 1;
			goto next;
		}
		if (fl == 8 && memcmp(p, "messages", 8) == 0) {
			char *q = tab + 1;
			int c = 0;

			while (q < e && c <= WM_NCLASS) {
				char *sp = q;

				while (sp < e && *sp != ' ' && *sp != '\t')
					sp++;
				if (sp > q) {
					if (c == WM_NCLASS ||
					    (n[c] = parse_count(q,
					    (size_t)(sp - q))) < 0) {
						diag_error(d, path, line,
						    (int)(q - p) + 1,
						    "expected %d message counts",
						    WM_NCLASS);
						goto next;
					}
					c++;
				}
				q = sp + 1;
			}
			if (c != WM_NCLASS) {
				diag_error(d, path, line, 1,
				    "expected %d message counts", WM_NCLASS);
				goto next;
			}
			have_msgs = 1;
			goto next;
		}
		if (!have_classes || !have_msgs) {
			diag_error(d, path, line, 1, "the classes and "
			    "messages lines must come before the features");
			goto out;
		}
		if (fl == 0 || fl > WM_MAX_FEATLEN) {
			diag_error(d, path, line, 1, "a feature is 1 to %d "
			    "bytes", WM_MAX_FEATLEN);
			goto next;
		}
		if (m->nfeat >= WM_MAX_FEATURES) {
			diag_error(d, path, line, 1, "more than %d features",
			    WM_MAX_FEATURES);
			goto out;
		}
		{
			uint64_t h = fnv(FNV_OFF, p, fl);
			uint32_t row[WM_NCLASS];
			char *q = tab + 1;
			int any = 0;

			if (htab_get(&m->tab, h) >= 0) {
				diag_error(d, path, line, 1, "feature \"%.*s\" "
				    "twice", (int)fl, p);
				goto next;
			}
			memset(row, 0, sizeof(row));
			while (q < e) {
				char *sp = q, *colon;
				int c;
				long v;

				while (sp < e && *sp != ' ' && *sp != '\t')
					sp++;
				if (sp == q) {
					q++;
					continue;
				}
				colon = memchr(q, ':', (size_t)(sp - q));
				if (colon == NULL ||
				    (c = class_index(q, (size_t)(colon - q))) < 0 ||
				    (v = parse_count(colon + 1,
				    (size_t)(sp - colon - 1))) < 0 ||
				    v > n[c]) {
					diag_error(d, path, line,
					    (int)(q - p) + 1, "expected "
					    "class:count with a known class and "
					    "at most its message count");
					goto next;
				}
				row[c] = (uint32_t)v;
				any = 1;
				q = sp;
			}
			if (!any) {
				diag_error(d, path, line, (int)fl + 2,
				    "a feature without counts");
				goto next;
			}
			if (m->nfeat == cap) {
				cap = cap ? 2 * cap : 4096;
				cnt = xrealloc(cnt, cap * sizeof(*cnt));
			}
			memcpy(cnt[m->nfeat], row, sizeof(row));
			htab_put(&m->tab, h, (uint32_t)m->nfeat);
			m->nfeat++;
		}
next:
		p = nl ? nl + 1 : end;
	}
	if (d->nerrors == errs0 && (!have_classes || !have_msgs))
		diag_error(d, path, line, 0, "no classes or messages line");
	for (int c = 0; c < WM_NCLASS; c++)
		m->nmsg += (unsigned long)n[c];
	if (d->nerrors == errs0 && m->nmsg == 0)
		diag_error(d, path, line, 0, "a model of no messages");
out:
	free(buf);
	if (d->nerrors != errs0) {
		free(cnt);
		wordmodel_free(m);
		return NULL;
	}
	/* naive Bayes over the features present: log P(f|c) - log P(f|not c) */
	m->w = xcalloc(m->nfeat ? m->nfeat : 1, WM_NCLASS * sizeof(float));
	for (int c = 0; c < WM_NCLASS; c++)
		m->prior[c] = n[c] > 0 ? log((double)n[c] / (double)m->nmsg)
		    : -1e9;
	for (size_t i = 0; i < m->nfeat; i++) {
		double tot = 0;

		for (int c = 0; c < WM_NCLASS; c++)
			tot += cnt[i][c];
		for (int c = 0; c < WM_NCLASS; c++)
			m->w[i * WM_NCLASS + c] = (float)(
			    log((cnt[i][c] + 0.5) / ((double)n[c] + 1)) -
			    log((tot - cnt[i][c] + 0.5) /
			    ((double)m->nmsg - (double)n[c] + 1)));
	}
	free(cnt);
	return m;
}

void
wordmodel_score(const struct wordmodel *m, const struct normtext *nt,
    double *out)
{
	struct feat *f;
	size_t nf = features(nt, &f);

	for (int c = 0; c < WM_NCLASS; c++)
		out[c] = m->prior[c];
	for (size_t i = 0; i < nf; i++) {
		long k = htab_get(&m->tab, f[i].hash);

		if (k < 0)
			continue;
		for (int c = 0; c < WM_NCLASS; c++)
			out[c] += m->w[(size_t)k * WM_NCLASS + c];
	}
	free(f);
}

size_t
wordmodel_top(const struct wordmodel *m, const struct normtext *nt,
    int cls, int other, size_t *start, size_t *end, double *gain, size_t max)
{
	struct feat *f;
	size_t nf = features(nt, &f), nout = 0;

	for (size_t i = 0; i < nf; i++) {
		long k = htab_get(&m->tab, f[i].hash);
		double g;
		size_t j;

		if (k < 0)
			continue;
		g = m->w[(size_t)k * WM_NCLASS + cls] -
		    m->w[(size_t)k * WM_NCLASS + other];
		if (g <= 0)
			continue;
		/* keep the best max, sorted */
		for (j = nout; j > 0 && gain[j - 1] < g; j--)
			if (j < max) {
				gain[j] = gain[j - 1];
				start[j] = start[j - 1];
				end[j] = end[j - 1];
			}
		if (j < max) {
			gain[j] = g;
			start[j] = f[i].a_s;
			end[j] = f[i].pair ? f[i].b_e : f[i].a_e;
			if (nout < max)
				nout++;
		}
	}
	free(f);
	return nout;
}

/* Learning */

struct lentry {
	char		*str;
	uint32_t	 cnt[WM_NCLASS];
};

struct wm_learner {
	struct htab	 tab;
	struct lentry	*e;
	size_t		 n, cap;
	unsigned long	 msgs[WM_NCLASS];
};

struct wm_learner *
wm_learner_new(void)
{
	return xcalloc(1, sizeof(struct wm_learner));
}

void
wm_learner_free(struct wm_learner *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].str);
	free(l->e);
	htab_free(&l->tab);
	free(l);
}

void
wm_learner_add(struct wm_learner *l, const struct normtext *nt, int cls)
{
	struct feat *f;
	size_t nf;

	if (cls < 0 || cls >= WM_NCLASS)
		return;
	nf = features(nt, &f);
	l->msgs[cls]++;
	for (size_t i = 0; i < nf; i++) {
		long k = htab_get(&l->tab, f[i].hash);

		if (k < 0) {
			const char *t = nt->text;
			char *s;

			if (f[i].pair)
				s = xasprintf("%.*s %.*s",
				    (int)(f[i].a_e - f[i].a_s), t + f[i].a_s,
				    (int)(f[i].b_e - f[i].b_s), t + f[i].b_s);
			else
				s = xasprintf("%s%.*s", f[i].suffix ? "*" : "",
				    (int)(f[i].a_e - f[i].a_s), t + f[i].a_s);
			if (strlen(s) > WM_MAX_FEATLEN) {
				free(s);
				continue;
			}
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 4096;
				l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
			}
			memset(&l->e[l->n], 0, sizeof(l->e[l->n]));
			l->e[l->n].str = s;
			htab_put(&l->tab, f[i].hash, (uint32_t)l->n);
			k = (long)l->n++;
		}
		l->e[k].cnt[cls]++;
	}
	free(f);
}

static int
cmp_lentry(const void *a, const void *b)
{
	const struct lentry *const *x = a, *const *y = b;

	return strcmp((*x)->str, (*y)->str);
}

int
wm_learner_write(const struct wm_learner *l, FILE *fp, unsigned min_count,
    const char *comment)
{
	const struct lentry **v = xcalloc(l->n ? l->n : 1, sizeof(*v));
	size_t nv = 0;

	for (size_t i = 0; i < l->n; i++) {
		unsigned long tot = 0;

		for (int c = 0; c < WM_NCLASS; c++)
			tot += l->e[i].cnt[c];
		if (tot >= min_count)
			v[nv++] = &l->e[i];
	}
	qsort(v, nv, sizeof(*v), cmp_lentry);
	fprintf(fp, "# bart word model 1\n");
	if (comment != NULL)
		fprintf(fp, "# %s\n", comment);
	fprintf(fp, "# A line: feature<TAB>class:messages... (how many tuning "
	    "messages of each class\n# held the feature; a feature is a word, "
	    "two neighbouring words, or *the end\n# of a long word).\n");
	fprintf(fp, "classes\t");
	for (int c = 0; c < WM_NCLASS; c++)
		fprintf(fp, "%s%s", c ? " " : "", class_name(c));
	fprintf(fp, "\nmessages\t");
	for (int c = 0; c < WM_NCLASS; c++)
		fprintf(fp, "%s%lu", c ? " " : "", l->msgs[c]);
	fputc('\n', fp);
	for (size_t i = 0; i < nv; i++) {
		int first = 1;

		fprintf(fp, "%s\t", v[i]->str);
		for (int c = 0; c < WM_NCLASS; c++)
			if (v[i]->cnt[c]) {
				fprintf(fp, "%s%s:%u", first ? "" : " ",
				    class_name(c), v[i]->cnt[c]);
				first = 0;
			}
		fputc('\n', fp);
	}
	free(v);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}
