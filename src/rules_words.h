/* rules_words.h: the word-level keyword index of the rule engine. Finds
 * where keywords may occur in the compact text of a message (its word
 * characters, see normalise.h) by hashing whole words, joins of adjacent
 * words, and word prefixes or suffixes, instead of running an automaton
 * over every byte. Built once, then read-only: scanning is safe from
 * several threads. */
#ifndef BART_RULES_WORDS_H
#define BART_RULES_WORDS_H

#include <stddef.h>
#include <stdint.h>

struct wordidx;

/* Empty index for at most nkeywords keywords; caller frees with
 * wordidx_free. */
struct wordidx *wordidx_new(size_t nkeywords);
void wordidx_free(struct wordidx *wi);

/* Adds keyword id: compact pattern pat[0..n) (n > 0), joint[1..n-1]
 * nonzero where the keyword had a separator, star_pre for "*kw" (may
 * start inside a word), star_post for "kw*" (may end inside a word).
 * pat and joint are not copied: they must outlive the index. An infix
 * keyword (both stars) cannot be indexed by words: returns -1 and adds
 * nothing; else 0. Only before wordidx_compile. */
int wordidx_add(struct wordidx *wi, const char *pat, size_t n,
    const uint8_t *joint, int star_pre, int star_post, uint32_t id);
/* Builds the hash tables; after this only wordidx_scan may be called. */
void wordidx_compile(struct wordidx *wi);

/* Calls fn(arg, id, start, end) for every [start, end) of the compact
 * text whose bytes equal keyword id's pattern and where the keyword may
 * match as far as word boundaries go: it starts at a word start (unless
 * star_pre), ends at a word end (unless star_post), and every word
 * boundary inside it is soft and at one of the keyword's joints. These
 * are candidates, a superset of the matches: the caller checks them.
 * compact[0..clen] (NUL at clen), cbound[0..clen] and the word starts
 * wstart[0..nw) are as in struct normtext. For each id the calls come in
 * increasing order of start, at most one per start. fn returns nonzero
 * to stop. */
void wordidx_scan(const struct wordidx *wi, const char *compact,
    const uint8_t *cbound, size_t clen, const uint32_t *wstart, size_t nw,
    int (*fn)(void *arg, uint32_t id, size_t start, size_t end), void *arg);

size_t wordidx_nkeywords(const struct wordidx *wi);
/* Bytes of memory held. */
size_t wordidx_memory(const struct wordidx *wi);

#endif
