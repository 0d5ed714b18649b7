/* rules_ac.h: Aho-Corasick multi-pattern matcher over bytes, the literal
 * prefilter of the rule engine. Built once, then read-only: scanning is
 * safe from several threads. */
#ifndef BART_RULES_AC_H
#define BART_RULES_AC_H

#include <stddef.h>
#include <stdint.h>

struct ac;

/* Empty automaton; caller frees with ac_free. */
struct ac *ac_new(void);
void ac_free(struct ac *ac);
/* Adds pattern p[0..n) (n > 0) reported as id. Only before ac_compile. */
void ac_add(struct ac *ac, const char *p, size_t n, uint32_t id);
/* Builds failure links; after this only ac_scan may be called. */
void ac_compile(struct ac *ac);
/* Calls fn(arg, id, start, end) for every occurrence of every pattern in
 * text (overlapping ones too), in order of end offset. fn returns
 * nonzero to stop. */
void ac_scan(const struct ac *ac, const char *text, size_t n,
    int (*fn)(void *arg, uint32_t id, size_t start, size_t end), void *arg);
size_t ac_npatterns(const struct ac *ac);
/* Bytes of memory held. */
size_t ac_memory(const struct ac *ac);

#endif
