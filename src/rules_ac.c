/* rules_ac.c: Aho-Corasick automaton with a dense root and sorted edge
 * arrays elsewhere (small enough for 10,000 rules). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules_ac.h"
#include "util.h"

#define NONE	UINT32_MAX

/* After compiling, state i's edges are [first, next state's first). */
struct ac_node {
	uint32_t	first;		/* build: first child; then edge index */
	uint32_t	fail;
	uint32_t	out;		/* first output, or NONE */
	uint32_t	dict;		/* next node on the fail chain with
					 * output, or NONE */
};

/* Build-time only. */
struct ac_bnode {
	uint32_t	sibling;	/* next child of the parent */
	uint16_t	nedge;
	uint8_t		label;
};

struct ac_out {
	uint32_t	id;
	uint32_t	len;
	uint32_t	next;
};

struct ac {
	struct ac_node	*nodes;		/* nnodes + 1 (a sentinel) */
	struct ac_bnode	*bn;		/* build only */
	size_t		 nnodes, nodecap;
	struct ac_out	*outs;
	size_t		 nouts, outcap;
	uint8_t		*elabel;	/* edges, per node sorted by label */
	uint32_t	*etarget;
	size_t		 nedges;
	uint32_t	 root[256];	/* dense root transitions (0 = root) */
	/* a full DFA over byte classes when it fits in DFA_MAX bytes */
	uint8_t		 cls[256];	/* byte -> class (0: not in any pattern) */
	uint32_t	 ncls;
	uint32_t	*dfa;		/* [state * ncls + class] -> state, for
					 * states < nrows (numbered in BFS
					 * order, so these are the shallowest) */
	size_t		 nrows;
	int		 compiled;
};

/* The whole DFA if it fits in DFA_MAX, else rows for the shallowest
 * states in DFA_PART (deeper states use the sparse edges and fall back
 * to a shallow state quickly). */
#define DFA_MAX		(2u * 1024 * 1024)
#define DFA_PART	(768u * 1024)
/* In a DFA entry: the target state has output (its own or on its
 * dictionary chain), so a scan need not look at the state itself. */
#define DFA_OUT		0x80000000u

/* Empty automaton; caller frees with ac_free. */
struct ac *
ac_new(void)
{
	struct ac *ac = xcalloc(1, sizeof(*ac));

	ac->nodecap = 64;
	ac->nodes = xcalloc(ac->nodecap, sizeof(*ac->nodes));
	ac->bn = xcalloc(ac->nodecap, sizeof(*ac->bn));
	ac->nnodes = 1;
	ac->nodes[0].first = NONE;
	ac->bn[0].sibling = NONE;
	ac->nodes[0].out = NONE;
	ac->nodes[0].dict = NONE;
	return ac;
}

void
ac_free(struct ac *ac)
{
	if (ac == NULL)
		return;
	free(ac->nodes);
	free(ac->bn);
	free(ac->outs);
	free(ac->elabel);
	free(ac->etarget);
	free(ac->dfa);
	free(ac);
}

size_t
ac_npatterns(const struct ac *ac)
{
	return ac->nouts;
}

size_t
ac_memory(const struct ac *ac)
{
	return ac->nodecap * sizeof(*ac->nodes) +
	    ac->outcap * sizeof(*ac->outs) + ac->nedges * 5 + sizeof(*ac) +
	    ac->nrows * ac->ncls * sizeof(uint32_t);
}

static uint32_t
build_child(struct ac *ac, uint32_t u, uint8_t c)
{
	uint32_t v;

	for (v = ac->nodes[u].first; v != NONE; v = ac->bn[v].sibling)
		if (ac->bn[v].label == c)
			return v;
	if (ac->nnodes == ac->nodecap) {
		ac->nodecap *= 2;
		ac->nodes = xrealloc(ac->nodes,
		    ac->nodecap * sizeof(*ac->nodes));
		ac->bn = xrealloc(ac->bn, ac->nodecap * sizeof(*ac->bn));
	}
	v = (uint32_t)ac->nnodes++;
	ac->nodes[v].first = NONE;
	ac->bn[v].sibling = ac->nodes[u].first;
	ac->nodes[v].out = NONE;
	ac->nodes[v].dict = NONE;
	ac->bn[v].nedge = 0;
	ac->bn[v].label = c;
	ac->nodes[u].first = v;
	ac->bn[u].nedge++;
	return v;
}

void
ac_add(struct ac *ac, const char *p, size_t n, uint32_t id)
{
	uint32_t u = 0;

	if (ac->compiled || n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		u = build_child(ac, u, (uint8_t)p[i]);
	if (ac->nouts == ac->outcap) {
		ac->outcap = ac->outcap ? ac->outcap * 2 : 64;
		ac->outs = xrealloc(ac->outs, ac->outcap * sizeof(*ac->outs));
	}
	ac->outs[ac->nouts].id = id;
	ac->outs[ac->nouts].len = (uint32_t)n;
	ac->outs[ac->nouts].next = ac->nodes[u].out;
	ac->nodes[u].out = (uint32_t)ac->nouts++;
}

/* Edge range of state u: while building from the build-time counts,
 * afterwards from the next state's first edge. */
static void
edges(const struct ac *ac, uint32_t u, size_t *lo, size_t *hi)
{
	*lo = ac->nodes[u].first;
	*hi = ac->bn ? *lo + ac->bn[u].nedge : ac->nodes[u + 1].first;
}

static uint32_t
goto_child(const struct ac *ac, uint32_t u, uint8_t c)
{
	size_t lo, hi, end;

	if (u == 0)
		return ac->root[c] ? ac->root[c] : NONE;
	edges(ac, u, &lo, &hi);
	end = hi;
	if (hi - lo <= 8) {
		for (size_t i = lo; i < hi; i++)
			if (ac->elabel[i] == c)
				return ac->etarget[i];
		return NONE;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ac->elabel[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < end && ac->elabel[lo] == c)
		return ac->etarget[lo];
	return NONE;
}

/* Renumbers the states in BFS order (queue), so that a state's number
 * says how shallow it is and its failure state comes before it. */
static void
renumber(struct ac *ac, const uint32_t *queue, size_t n)
{
	uint32_t *newid = xmalloc(n * sizeof(uint32_t));
	struct ac_node *nn = xmalloc((n + 1) * sizeof(*nn));

	for (size_t q = 0; q < n; q++)
		newid[queue[q]] = (uint32_t)q;
	for (size_t u = 0; u < n; u++)
		nn[newid[u]] = ac->nodes[u];
	for (size_t i = 0; i < n; i++) {
		nn[i].fail = newid[nn[i].fail];
		if (nn[i].dict != NONE)
			nn[i].dict = newid[nn[i].dict];
	}
	for (size_t e = 0; e < ac->nedges; e++)
		ac->etarget[e] = newid[ac->etarget[e]];
	for (int c = 0; c < 256; c++)
		ac->root[c] = newid[ac->root[c]];
	/* the sentinel: where the last state's edges end */
	memset(&nn[n], 0, sizeof(nn[n]));
	nn[n].first = (uint32_t)ac->nedges;
	free(ac->bn);
	ac->bn = NULL;
	free(ac->nodes);
	ac->nodes = nn;
	ac->nodecap = n;
	free(newid);
}

/* The transition table of the first rows states (in BFS order, so the
 * failure state's row is always done first). Whole when it fits in
 * DFA_MAX, else the shallowest states in DFA_PART. */
static void
build_dfa(struct ac *ac, size_t n)
{
	uint8_t seen[256];
	size_t rows;

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < ac->nedges; i++)
		seen[ac->elabel[i]] = 1;
	ac->ncls = 1;
	for (int c = 0; c < 256; c++)
		ac->cls[c] = seen[c] ? (uint8_t)ac->ncls++ : 0;
	if (ac->ncls > 255 || ac->nnodes >= DFA_OUT)
		return;
	rows = ac->nnodes;
	if (rows * ac->ncls * sizeof(uint32_t) > DFA_MAX)
		rows = DFA_PART / (ac->ncls * sizeof(uint32_t));
	if (rows > n)
		rows = n;
	if (rows == 0)
		return;		/* the root needs a row */
	ac->nrows = rows;
	ac->dfa = xcalloc(rows * ac->ncls, sizeof(uint32_t));
	for (size_t u = 0; u < rows; u++) {
		const struct ac_node *nd = &ac->nodes[u];
		uint32_t *row = ac->dfa + u * ac->ncls;
		size_t lo, hi;

		/* class 0 (a byte no pattern has) always goes to the root */
		if (u != 0)
			memcpy(row, ac->dfa + (size_t)nd->fail * ac->ncls,
			    ac->ncls * sizeof(uint32_t));
		edges(ac, (uint32_t)u, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			uint32_t v = ac->etarget[i];

			row[ac->cls[ac->elabel[i]]] = v |
			    (ac->nodes[v].out != NONE ||
			    ac->nodes[v].dict != NONE ? DFA_OUT : 0);
		}
	}
}

void
ac_compile(struct ac *ac)
{
	uint32_t *queue, *tmp;
	size_t qh = 0, qt = 0, e = 0;

	if (ac->compiled)
		return;
	ac->nedges = ac->nnodes - 1;
	ac->elabel = xcalloc(ac->nedges + 1, 1);
	ac->etarget = xcalloc(ac->nedges + 1, sizeof(uint32_t));
	queue = xcalloc(ac->nnodes, sizeof(uint32_t));
	tmp = xcalloc(256, sizeof(uint32_t));
	queue[qt++] = 0;
	/* lay out edges in BFS order, each node's sorted by label */
	while (qh < qt) {
		uint32_t u = queue[qh++], v;
		size_t k = 0;

		for (v = ac->nodes[u].first; v != NONE;
		    v = ac->bn[v].sibling)
			tmp[k++] = v;
		/* insertion sort by label (k <= 256) */
		for (size_t i = 1; i < k; i++) {
			uint32_t x = tmp[i];
			size_t j = i;

			while (j > 0 && ac->bn[tmp[j - 1]].label >
			    ac->bn[x].label) {
				tmp[j] = tmp[j - 1];
				j--;
			}
			tmp[j] = x;
		}
		ac->nodes[u].first = (uint32_t)e;
		for (size_t i = 0; i < k; i++) {
			ac->elabel[e] = ac->bn[tmp[i]].label;
			ac->etarget[e++] = tmp[i];
			queue[qt++] = tmp[i];
			if (u == 0)
				ac->root[ac->bn[tmp[i]].label] = tmp[i];
		}
	}
	/* failure and dictionary links, in BFS order */
	ac->nodes[0].fail = 0;
	for (qh = 0; qh < qt; qh++) {
		uint32_t u = queue[qh];
		struct ac_node *nu = &ac->nodes[u];
		size_t lo, hi;

		edges(ac, u, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			uint32_t v = ac->etarget[i], f, t;
			uint8_t c = ac->elabel[i];

			if (u == 0)
				f = 0;
			else {
				f = nu->fail;
				while ((t = goto_child(ac, f, c)) == NONE &&
				    f != 0)
					f = ac->nodes[f].fail;
				f = t == NONE ? 0 : t;
			}
			ac->nodes[v].fail = f;
			ac->nodes[v].dict = ac->nodes[f].out != NONE ? f :
			    ac->nodes[f].dict;
		}
	}
	renumber(ac, queue, qt);
	build_dfa(ac, qt);
	free(queue);
	free(tmp);
	ac->nodecap = ac->nnodes + 1;
	if (ac->nouts > 0) {
		ac->outs = xrealloc(ac->outs, ac->nouts * sizeof(*ac->outs));
		ac->outcap = ac->nouts;
	}
	ac->compiled = 1;
}

void
ac_scan(const struct ac *ac, const char *text, size_t n,
    int (*fn)(void *arg, uint32_t id, size_t start, size_t end), void *arg)
{
	uint32_t u = 0, t;

	if (!ac->compiled || ac->nouts == 0)
		return;
	if (ac->dfa != NULL) {
		const uint32_t *dfa = ac->dfa;
		const uint8_t *cls = ac->cls;
		uint32_t nc = ac->ncls, nrows = (uint32_t)ac->nrows;

		for (size_t i = 0; i < n; i++) {
			uint8_t c = (uint8_t)text[i];

			t = NONE;
			if (cls[c] == 0) {
				u = 0;
				continue;
			}
			while (u >= nrows) {
				if ((t = goto_child(ac, u, c)) != NONE)
					break;
				u = ac->nodes[u].fail;
			}
			if (u < nrows) {
				uint32_t v = dfa[(size_t)u * nc + cls[c]];

				u = v & ~DFA_OUT;
				if (!(v & DFA_OUT))
					continue;
			} else {
				u = t;
				if (ac->nodes[u].out == NONE &&
				    ac->nodes[u].dict == NONE)
					continue;
			}
			for (uint32_t s = ac->nodes[u].out != NONE ? u :
			    ac->nodes[u].dict; s != NONE; s = ac->nodes[s].dict)
				for (uint32_t o = ac->nodes[s].out; o != NONE;
				    o = ac->outs[o].next)
					if (fn(arg, ac->outs[o].id,
					    i + 1 - ac->outs[o].len, i + 1))
						return;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)text[i];

		if (u == 0) {
			u = ac->root[c];
		} else {
			while ((t = goto_child(ac, u, c)) == NONE && u != 0)
				u = ac->nodes[u].fail;
			u = t == NONE ? 0 : t;
		}
		if (u == 0)
			continue;
		for (uint32_t s = ac->nodes[u].out != NONE ? u :
		    ac->nodes[u].dict; s != NONE; s = ac->nodes[s].dict) {
			for (uint32_t o = ac->nodes[s].out; o != NONE;
			    o = ac->outs[o].next)
				if (fn(arg, ac->outs[o].id,
				    i + 1 - ac->outs[o].len, i + 1))
					return;
		}
	}
}
