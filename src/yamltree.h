/* yamltree.h: a YAML document as a small tree with source positions,
 * for the config file and the rule files (built on libyaml). Anchors,
 * aliases and tags are refused: moderators write plain YAML. */
#ifndef BART_YAMLTREE_H
#define BART_YAMLTREE_H

#include <stddef.h>

#include "util.h"

enum ynode_type { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
	enum ynode_type	  type;
	int		  line;		/* 1-based */
	int		  col;		/* 1-based */
	char		 *str;		/* YN_SCALAR: NUL-terminated text */
	size_t		  len;		/* YN_SCALAR: length of str */
	int		  quoted;	/* YN_SCALAR: was quoted in the source */
	size_t		  n;		/* YN_SEQ, YN_MAP: number of items */
	struct ynode	**items;	/* YN_SEQ: items; YN_MAP: values */
	struct ynode	**keys;		/* YN_MAP: keys (scalars) */
};

/* Parses a file of at most maxlen bytes. Errors (and a top level that
 * is empty) go to d as file:line:col. Returns the root of the first
 * document (NULL for an empty file or on error); caller frees with
 * ynode_free. */
struct ynode *yaml_load_file(const char *path, size_t maxlen, struct diag *d);
/* Same for a buffer; name is used in diagnostics. */
struct ynode *yaml_load_buffer(const char *name, const char *buf, size_t len,
    struct diag *d);
void ynode_free(struct ynode *n);

/* Value for key in a map, or NULL. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);
/* Parses a scalar as an integer in [min,max]; 0 on success, else adds a
 * diagnostic and returns -1. */
int ynode_int(const struct ynode *n, const char *file, long min, long max,
    long *out, struct diag *d);
/* Parses a scalar as a boolean (true/false/yes/no/on/off). */
int ynode_bool(const struct ynode *n, const char *file, int *out,
    struct diag *d);
/* Name of the type for messages ("a scalar", "a list", "a mapping"). */
const char *ynode_typename(const struct ynode *n);

#endif
