/* normalise.h: the text the rules see. A chat message becomes NFKC,
 * case folded, accent stripped text without invisible characters, with
 * runs of 3+ identical letters collapsed and chat abbreviations expanded;
 * every byte of the result maps back to a stretch of the original. */
#ifndef BART_NORMALISE_H
#define BART_NORMALISE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Only the first NORM_MAX_INPUT bytes of a message are looked at. */
#define NORM_MAX_INPUT	(256 * 1024)
#define NORM_MAX_OUTPUT	(2 * NORM_MAX_INPUT)
/* Longest word that can be an abbreviation, longest expansion. */
#define ABBREV_MAX_WORD	32
#define ABBREV_MAX_EXP	128

/* Character classes of normalised bytes. */
enum { NC_WORD = 0, NC_SOFT = 1, NC_HARD = 2 };

/* Table of chat abbreviations ("ff" -> "even"). */
struct abbrev;

/* Empty table; caller frees with abbrev_free. */
struct abbrev *abbrev_new(void);
void abbrev_free(struct abbrev *ab);
/* Adds word -> expansion (both normalised here). 0, or -1 with *err set
 * to a static message. */
int abbrev_add(struct abbrev *ab, const char *word, const char *exp,
    const char **err);
/* Loads "word expansion..." lines ('#' comments) from path; problems go
 * to d as file:line:col. 0 on success, -1 on any error. */
int abbrev_load(struct abbrev *ab, const char *path, struct diag *d);
size_t abbrev_count(const struct abbrev *ab);

/* A normalised message. Buffers are reused between calls to normalise();
 * release with normtext_free. */
struct normtext {
	char		*text;		/* normalised, NUL-terminated */
	size_t		 len;
	uint32_t	*ostart;	/* per byte of text: original start */
	uint32_t	*oend;		/* per byte of text: original end */
	uint32_t	*word;		/* per byte of text: word number */
	uint8_t		*cls;		/* per byte of text: NC_* */
	char		*compact;	/* the word characters of text only */
	size_t		 clen;
	uint32_t	*cmap;		/* per byte of compact: offset in text */
	uint8_t		*cbound;	/* [0..clen]: separator before this
					 * compact byte: 0 none, else NC_SOFT
					 * or NC_HARD (the ends are NC_HARD) */
	uint32_t	*cword;		/* compact offsets where a word starts
					 * (cbound != 0), ascending */
	size_t		 ncword;
	size_t		 nwords;
	size_t		 inlen;		/* bytes of the original looked at */
	int		 truncated;	/* inlen < the message length */
	size_t		 cap;
};

void normtext_init(struct normtext *nt);
void normtext_free(struct normtext *nt);

/* Normalises in[0..len) (any bytes; invalid UTF-8 becomes U+FFFD) into
 * nt. ab may be NULL. */
void normalise(const struct abbrev *ab, const char *in, size_t len,
    struct normtext *nt);

/* Normalised copy of a NUL-terminated string; caller frees. */
char *normalise_str(const struct abbrev *ab, const char *s);

/* The original byte range of normalised bytes [s, e). */
void norm_orig_span(const struct normtext *nt, size_t s, size_t e,
    size_t *os, size_t *oe);

#endif
