/* rules_lit.c: the literals a regex cannot match without, for the
 * prefilter. A small parser of the common regex subset; anything it does
 * not understand gives "no literals" (the regex then runs every time). */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define LIT_MIN		2	/* shorter literals are not worth it */
#define LIT_MAXSET	64

struct lset {
	char	**v;
	size_t	  n;
	int	  ok;
};

struct lp {
	const char	*p, *end;
	int		 fail;
	int		 depth;
};

static void
lset_free(struct lset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static size_t
lset_minlen(const struct lset *s)
{
	size_t m = SIZE_MAX;

	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) < m)
			m = strlen(s->v[i]);
	return m;
}

/* Keeps the better of *best and cand (cand is consumed). */
static void
consider(struct lset *best, struct lset *cand)
{
	if (!cand->ok || cand->n == 0 || lset_minlen(cand) < LIT_MIN) {
		lset_free(cand);
		return;
	}
	if (!best->ok || lset_minlen(cand) > lset_minlen(best) ||
	    (lset_minlen(cand) == lset_minlen(best) && cand->n < best->n)) {
		lset_free(best);
		*best = *cand;
		memset(cand, 0, sizeof(*cand));
		return;
	}
	lset_free(cand);
}

static void
flush(struct buf *run, struct lset *best)
{
	struct lset c = { 0 };

	if (run->len >= LIT_MIN) {
		c.v = xcalloc(1, sizeof(char *));
		c.v[0] = xstrndup(run->data, run->len);
		c.n = 1;
		c.ok = 1;
		consider(best, &c);
	}
	run->len = 0;
}

/* Parses a quantifier at lp->p; returns its minimum count, or -1 if
 * there is none. */
static int
quantifier(struct lp *lp)
{
	const char *p = lp->p;
	int min = -1;

	if (p >= lp->end)
		return -1;
	if (*p == '?' || *p == '*') {
		min = 0;
		p++;
	} else if (*p == '+') {
		min = 1;
		p++;
	} else if (*p == '{') {
		const char *q = p + 1;
		int v = 0, digits = 0;

		while (q < lp->end && isdigit((unsigned char)*q) && v < 10000) {
			v = v * 10 + (*q++ - '0');
			digits++;
		}
		if (!digits)
			return -1;
		while (q < lp->end && (isdigit((unsigned char)*q) || *q == ','))
			q++;
		if (q >= lp->end || *q != '}')
			return -1;
		min = v;
		p = q + 1;
	} else
		return -1;
	if (p < lp->end && (*p == '?' || *p == '+'))
		p++;
	lp->p = p;
	return min;
}

static void
add_char(struct lp *lp, struct buf *run, struct lset *best, char c)
{
	int q = quantifier(lp);

	if (q == 0) {
		flush(run, best);
		return;
	}
	c = (char)tolower((unsigned char)c);
	buf_append(run, &c, 1);
	if (q > 0)
		flush(run, best);
}

static struct lset parse_alt(struct lp *lp);

static void
skip_class(struct lp *lp)
{
	const char *p = lp->p + 1;

	if (p < lp->end && *p == '^')
		p++;
	if (p < lp->end && *p == ']')
		p++;
	while (p < lp->end && *p != ']') {
		if (*p == '\\')
			p++;
		else if (*p == '[' && p + 1 < lp->end && p[1] == ':') {
			const char *q = strstr(p, ":]");
			if (q == NULL || q >= lp->end) {
				lp->fail = 1;
				return;
			}
			p = q + 1;
		}
		p++;
	}
	if (p >= lp->end) {
		lp->fail = 1;
		return;
	}
	lp->p = p + 1;
}

static struct lset
parse_seq(struct lp *lp)
{
	struct buf run = { 0 };
	struct lset best = { 0 };

	while (!lp->fail && lp->p < lp->end && *lp->p != '|' &&
	    *lp->p != ')') {
		char c = *lp->p;

		if (c == '(') {
			struct lset sub;
			int skip = 0, q;

			flush(&run, &best);
			lp->p++;
			if (lp->p < lp->end && *lp->p == '?') {
				const char *p = lp->p + 1;
				if (p < lp->end && *p == ':')
					lp->p += 2;
				else if (p < lp->end && (*p == '=' || *p == '!')) {
					skip = 1;
					lp->p += 2;
				} else if (p + 1 < lp->end && *p == '<' &&
				    (p[1] == '=' || p[1] == '!')) {
					skip = 1;
					lp->p += 3;
				} else {
					lp->fail = 1;
					break;
				}
			} else if (lp->p < lp->end && *lp->p == '*') {
				lp->fail = 1;
				break;
			}
			if (++lp->depth > 50) {
				lp->fail = 1;
				break;
			}
			sub = parse_alt(lp);
			lp->depth--;
			if (lp->fail || lp->p >= lp->end || *lp->p != ')') {
				lset_free(&sub);
				lp->fail = 1;
				break;
			}
			lp->p++;
			q = quantifier(lp);
			if (!skip && q != 0)
				consider(&best, &sub);
			else
				lset_free(&sub);
		} else if (c == '[') {
			flush(&run, &best);
			skip_class(lp);
			(void)quantifier(lp);
		} else if (c == '.' || c == '^' || c == '$') {
			flush(&run, &best);
			lp->p++;
			(void)quantifier(lp);
		} else if (c == '\\') {
			char e = lp->p + 1 < lp->end ? lp->p[1] : '\0';

			if (e == '\0') {
				lp->fail = 1;
				break;
			}
			lp->p += 2;
			if (isalnum((unsigned char)e)) {
				flush(&run, &best);
				if (strchr("QEgkcK", e) != NULL) {
					lp->fail = 1;
					break;
				}
				if (strchr("pPxoN", e) && lp->p < lp->end &&
				    *lp->p == '{') {
					while (lp->p < lp->end && *lp->p != '}')
						lp->p++;
					lp->p++;
				} else if (e == 'x') {
					for (int k = 0; k < 2 && lp->p < lp->end &&
					    isxdigit((unsigned char)*lp->p); k++)
						lp->p++;
				} else if (e == 'p' || e == 'P')
					lp->p++;
				else if (isdigit((unsigned char)e))
					while (lp->p < lp->end &&
					    isdigit((unsigned char)*lp->p))
						lp->p++;
				(void)quantifier(lp);
			} else if ((unsigned char)e >= 0x80) {
				lp->fail = 1;
				break;
			} else
				add_char(lp, &run, &best, e);
		} else if (c == '*' || c == '+' || c == '?' || c == '{') {
			lp->fail = 1;
			break;
		} else if ((unsigned char)c >= 0x80) {
			flush(&run, &best);
			lp->p++;
			while (lp->p < lp->end &&
			    ((unsigned char)*lp->p & 0xc0) == 0x80)
				lp->p++;
			(void)quantifier(lp);
		} else {
			lp->p++;
			add_char(lp, &run, &best, c);
		}
	}
	flush(&run, &best);
	buf_free(&run);
	return best;
}

static struct lset
parse_alt(struct lp *lp)
{
	struct lset s = parse_seq(lp);

	while (!lp->fail && lp->p < lp->end && *lp->p == '|') {
		struct lset t;

		lp->p++;
		t = parse_seq(lp);
		if (!s.ok || !t.ok || s.n + t.n > LIT_MAXSET) {
			lset_free(&t);
			s.ok = 0;
			continue;
		}
		s.v = xrealloc(s.v, (s.n + t.n) * sizeof(char *));
		memcpy(s.v + s.n, t.v, t.n * sizeof(char *));
		s.n += t.n;
		free(t.v);
	}
	if (!s.ok)
		lset_free(&s);
	return s;
}

/* Required literals of a regex; caller frees each and the array. */
char **
regex_literals(const char *pat, size_t *n)
{
	struct lp lp;
	struct lset s;

	lp.p = pat;
	lp.end = pat + strlen(pat);
	lp.fail = 0;
	lp.depth = 0;
	s = parse_alt(&lp);
	if (lp.fail || lp.p != lp.end || !s.ok) {
		lset_free(&s);
		*n = 0;
		return NULL;
	}
	*n = s.n;
	return s.v;
}
