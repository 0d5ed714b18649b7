/* rules_ac.c: Aho-Corasick automaton with a dense root and sorted edge
 * arrays elsewhere (small enough for 10,000 rules). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules_ac.h"
#include "util.h"

#define NONE	UINT32_MAX

struct ac_node {
	uint32_t	first;		/* build: first child; then edge index */
	uint32_t	fail;
	uint32_t	out;		/* first output, or NONE */
	uint32_t	dict;		/* next node on the fail chain with
					 * output, or NONE */
	uint16_t	nedge;
	uint8_t		label;
};

struct ac_out {
	uint32_t	id;
	uint32_t	len;
	uint32_t	next;
};

struct ac {
	struct ac_node	*nodes;
	uint32_t	*sibling;	/* build only: next child of the parent */
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
	uint32_t	*dfa;		/* [row * ncls + class] -> state */
	uint32_t	*row;		/* state -> row, NONE for deep states */
	size_t		 nrows;
	int		 compiled;
};

/* The whole DFA if it fits in DFA_MAX, else rows for the shallowest
 * states in DFA_PART (deeper states use the sparse edges and fall back
 * to a shallow state quickly). */
#define DFA_MAX		(4u * 1024 * 1024)
#define DFA_PART	(2u * 1024 * 1024)

/* Empty automaton; caller frees with ac_free. */
struct ac *
ac_new(void)
{
	struct ac *ac = xcalloc(1, sizeof(*ac));

	ac->nodecap = 64;
	ac->nodes = xcalloc(ac->nodecap, sizeof(*ac->nodes));
	ac->sibling = xcalloc(ac->nodecap, sizeof(*ac->sibling));
	ac->nnodes = 1;
	ac->nodes[0].first = NONE;
	ac->sibling[0] = NONE;
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
	free(ac->sibling);
	free(ac->outs);
	free(ac->elabel);
	free(ac->etarget);
	free(ac->dfa);
	free(ac->row);
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
	    ac->nrows * ac->ncls * sizeof(uint32_t) +
	    (ac->row ? ac->nnodes * sizeof(uint32_t) : 0);
}

static uint32_t
build_child(struct ac *ac, uint32_t u, uint8_t c)
{
	uint32_t v;

	for (v = ac->nodes[u].first; v != NONE; v = ac->sibling[v])
		if (ac->nodes[v].label == c)
			return v;
	if (ac->nnodes == ac->nodecap) {
		ac->nodecap *= 2;
		ac->nodes = xrealloc(ac->nodes,
		    ac->nodecap * sizeof(*ac->nodes));
		ac->sibling = xrealloc(ac->sibling,
		    ac->nodecap * sizeof(*ac->sibling));
	}
	v = (uint32_t)ac->nnodes++;
	ac->nodes[v].first = NONE;
	ac->sibling[v] = ac->nodes[u].first;
	ac->nodes[v].out = NONE;
	ac->nodes[v].dict = NONE;
	ac->nodes[v].nedge = 0;
	ac->nodes[v].label = c;
	ac->nodes[u].first = v;
	ac->nodes[u].nedge++;
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

static uint32_t
goto_child(const struct ac *ac, uint32_t u, uint8_t c)
{
	const struct ac_node *nd = &ac->nodes[u];
	size_t lo, hi;

	if (u == 0)
		return ac->root[c] ? ac->root[c] : NONE;
	lo = nd->first;
	hi = lo + nd->nedge;
	if (nd->nedge <= 8) {
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
	if (lo < nd->first + nd->nedge && ac->elabel[lo] == c)
		return ac->etarget[lo];
	return NONE;
}

/* The full transition table, state by state in BFS order, so that the
 * failure state's row is always done first. Skipped when too big. */
static void
build_dfa(struct ac *ac, const uint32_t *queue, size_t n)
{
	uint8_t seen[256];
	size_t rows;

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < ac->nedges; i++)
		seen[ac->elabel[i]] = 1;
	ac->ncls = 1;
	for (int c = 0; c < 256; c++)
		ac->cls[c] = seen[c] ? (uint8_t)ac->ncls++ : 0;
	if (ac->ncls > 255)
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
	ac->row = xmalloc(ac->nnodes * sizeof(uint32_t));
	for (size_t i = 0; i < ac->nnodes; i++)
		ac->row[i] = NONE;
	/* BFS order: a state's failure state has a smaller depth, so its
	 * row (if it has one) is done before the state's own */
	for (size_t q = 0; q < rows; q++) {
		uint32_t u = queue[q];
		const struct ac_node *nd = &ac->nodes[u];
		uint32_t *row = ac->dfa + q * ac->ncls;

		ac->row[u] = (uint32_t)q;
		/* class 0 (a byte no pattern has) always goes to the root */
		if (u != 0)
			memcpy(row, ac->dfa + (size_t)ac->row[nd->fail] *
			    ac->ncls, ac->ncls * sizeof(uint32_t));
		for (size_t i = nd->first; i < nd->first + nd->nedge; i++)
			row[ac->cls[ac->elabel[i]]] = ac->etarget[i];
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
		    v = ac->sibling[v])
			tmp[k++] = v;
		/* insertion sort by label (k <= 256) */
		for (size_t i = 1; i < k; i++) {
			uint32_t x = tmp[i];
			size_t j = i;

			while (j > 0 && ac->nodes[tmp[j - 1]].label >
			    ac->nodes[x].label) {
				tmp[j] = tmp[j - 1];
				j--;
			}
			tmp[j] = x;
		}
		ac->nodes[u].first = (uint32_t)e;
		for (size_t i = 0; i < k; i++) {
			ac->elabel[e] = ac->nodes[tmp[i]].label;
			ac->etarget[e++] = tmp[i];
			queue[qt++] = tmp[i];
			if (u == 0)
				ac->root[ac->nodes[tmp[i]].label] = tmp[i];
		}
	}
	/* failure and dictionary links, in BFS order */
	ac->nodes[0].fail = 0;
	for (qh = 0; qh < qt; qh++) {
		uint32_t u = queue[qh];
		struct ac_node *nu = &ac->nodes[u];

		for (size_t i = nu->first; i < nu->first + nu->nedge; i++) {
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
	build_dfa(ac, queue, qt);
	free(queue);
	free(tmp);
	free(ac->sibling);
	ac->sibling = NULL;
	/* give back what the doubling reserved */
	ac->nodes = xrealloc(ac->nodes, ac->nnodes * sizeof(*ac->nodes));
	ac->nodecap = ac->nnodes;
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
		const uint32_t *dfa = ac->dfa, *rowof = ac->row;
		const uint8_t *cls = ac->cls;
		uint32_t nc = ac->ncls;

		for (size_t i = 0; i < n; i++) {
			uint8_t c = (uint8_t)text[i];

			t = NONE;
			if (cls[c] == 0) {
				u = 0;
				continue;
			}
			while (rowof[u] == NONE) {
				if ((t = goto_child(ac, u, c)) != NONE)
					break;
				u = ac->nodes[u].fail;
			}
			u = rowof[u] == NONE ? t :
			    dfa[(size_t)rowof[u] * nc + cls[c]];
			if (ac->nodes[u].out == NONE && ac->nodes[u].dict == NONE)
				continue;
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
