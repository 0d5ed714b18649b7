/* rules_int.h: the compiled rule set, shared by rules_load.c (files to
 * this form), rules.c (deciding) and rules_lit.c (regex literals). Not
 * for use outside the rule engine. */
#ifndef BART_RULES_INT_H
#define BART_RULES_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <pcre2.h>

#include "normalise.h"
#include "rules.h"
#include "rules_ac.h"
#include "rules_model.h"
#include "rules_words.h"

#define RULES_MAX_FILE		(4 * 1024 * 1024)
#define RE_MAX_SUBJECT		(64 * 1024)	/* normalised bytes a regex sees */
#define RE_MATCH_LIMIT		20000
#define RE_DEPTH_LIMIT		500
#define RE_HEAP_LIMIT		2048		/* KiB */
#define ATOM_MAX_MATCHES	8
#define HIT_MAX_SPANS		16
#define EXCERPT_MAX		500
#define WITHIN_MAX		50
#define DEFAULT_THRESHOLD	3
/* The word model (rules_model.h): file name in the rules dir, and by how
 * much its log-odds must exceed the rules' choice to change a decision. */
#define MODEL_FILE		"woordmodel.tsv"
#define DEFAULT_MODEL_OVERRIDE	20	/* another category than the rules' */
#define DEFAULT_MODEL_FORWARD	40	/* a category where the rules had none */
#define DEFAULT_MODEL_VETO	10	/* no desk although the rules had one */
#define JIT_ALL_BELOW		100	/* regexes with literals JIT-compiled */

enum atom_kind { AT_KW, AT_RE };

/* A keyword or a regex; the fields of the other kind share memory, so
 * look at kind first. */
struct atom {
	uint8_t		 kind;		/* enum atom_kind */
	uint8_t		 star_pre, star_post;
	uint8_t		 jit;
	union {
		uint32_t patlen;	/* keywords */
		uint32_t nlits;		/* regexes */
	};
	char		*src;		/* as the moderator wrote it */
	union {
		struct {		/* keywords */
			char	*pat;	/* compact normalised form */
			uint8_t	*joint;	/* [0..patlen]: separator allowed */
		};
		struct {		/* regexes */
			pcre2_code *re;
			char	**lits;	/* required literals (any of) */
		};
	};
	/* rules (indexes) whose trigger contains this atom */
	uint32_t	 nrules;
	_Atomic uint32_t limit_hits;
	uint32_t	*rules;
	int		 line, col;
	const char	*file;
};

enum cond_type { CT_ATOM, CT_ALL, CT_ANY, CT_NONE, CT_ATLEAST, CT_WITHIN };

struct cond {
	uint8_t		  type;		/* enum cond_type */
	uint8_t		  lazy;		/* CT_ATOM: a regex without literals,
					 * false only once it has run */
	union {
		uint32_t  atom;		/* CT_ATOM */
		uint32_t  tally;	/* CT_ANY, CT_ATLEAST, CT_NONE: if not
					 * 0, its keyword kids are counted in
					 * tally slot tally - 1 as they match */
	};
	uint32_t	  memo;		/* a list or fragment: its value is
					 * kept per message in slot memo - 1;
					 * 0 for other conditions */
	int		  n;		/* CT_ATLEAST: n; CT_WITHIN: words */
	uint32_t	  nkids, kcap;
	struct cond	**kids;		/* room for kcap */
	const char	 *label;	/* for explain: "keywords", "@name" */
};

/* A long list of keywords is not walked to see how many of them
 * occurred: each keyword counts itself in the lists it is in when it
 * matches, and only the other kids (rest) are evaluated. */
#define TALLY_MIN		8	/* keyword kids a tallied list has */

struct tally {
	uint32_t	  nkw;		/* keyword kids, repeats counted */
	uint32_t	  nrest;
	struct cond	**rest;		/* the other kids, in order */
};

struct example {
	char		*text;
	int		 line, col;
};

struct rule {
	char		*id;
	char		*title;
	const char	*category;	/* NULL for cues */
	int		 catidx;
	enum urgency	 urgency;
	int		 score;
	int		 testing;
	int		 is_cue;
	int		 cue_raise;	/* 1 raise, 0 lower */
	enum urgency	 cue_target;
	uint32_t	 cue_cats;	/* bit per category; 0 = all */
	struct cond	*cond;		/* CT_ALL of the rule's parts */
	struct example	*ex, *cex;
	size_t		 nex, ncex;
	uint32_t	*trigger;	/* atoms; one must be true to fire */
	size_t		 ntrigger;
	int		 always;	/* no trigger: evaluated every time */
	const char	*file;
	int		 line, col;
	_Atomic uint64_t hits;
};

struct scratch;

/* Bump allocator for the many small, long-lived pieces of a rule set
 * (conditions, strings, index lists): no per-allocation overhead, freed
 * all at once by arena_free. */
struct arena {
	char		 *cur;
	size_t		  left;
	char		**chunks;
	size_t		  nchunks;
};

/* Zeroed, 8-byte aligned memory owned by a; freed by arena_free. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of s owned by a; freed by arena_free. */
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

struct ruleset {
	struct arena	  arena;	/* conds, strings, index lists */
	struct rule	 *rules;
	size_t		  nrules;
	struct atom	 *atoms;
	size_t		  natoms;
	uint32_t	  nmemo;	/* lists and fragments (cond memo) */
	struct tally	 *tallies;	/* cond tally - 1 */
	uint32_t	  ntally;
	uint32_t	 *tfirst;	/* per atom (natoms + 1, if ntally):
					 * its tally slots are tslot[tfirst[a]
					 * .. tfirst[a + 1]) */
	uint32_t	 *tslot;
	char		**files;	/* file names rules point into */
	size_t		  nfiles;
	uint32_t	 *always;	/* rules evaluated for every message */
	size_t		  nalways;
	struct wordidx	 *kwidx;	/* keywords over compact text, by word */
	struct ac	 *kwac;		/* infix keywords (*kw*), compact text */
	struct ac	 *litac;	/* regex literals over normalised text */
	struct abbrev	 *abbrev;
	pcre2_match_context *mctx;
	int		  threshold;
	struct wordmodel *model;	/* NULL: none */
	int		  model_override, model_forward, model_veto;
	pthread_mutex_t	  lock;		/* guards pool */
	struct scratch	 *pool;
};

/* Required literals of a regex source (any one must occur in a match),
 * lower-cased; NULL if none can be derived. Caller frees each and the
 * array. */
char **regex_literals(const char *pat, size_t *n);

/* Number of the category in bart_categories, or -1. */
int category_index(const char *name);

#endif
