/* rules.h: the rule engine as the rest of bart sees it. The engine is
 * pure: no I/O once loaded, no clock reads, deterministic. */
#ifndef BART_RULES_H
#define BART_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum urgency { URG_NONE = 0, URG_INFO = 1, URG_NORMAAL = 2, URG_SPOED = 3 };

/* "info", "normaal", "spoed"; NULL for URG_NONE. */
const char *urgency_name(enum urgency u);
/* 0 and *out set if s names an urgency, else -1. */
int urgency_parse(const char *s, enum urgency *out);

/* The taxonomy of DESIGN.md, NULL-terminated. */
extern const char *const bart_categories[];
/* The canonical static string for a category name, or NULL if unknown. */
const char *category_lookup(const char *name);

/* A matched stretch of the ORIGINAL (not normalised) text, in bytes. */
struct span {
	size_t	start;
	size_t	end;
};

struct rule_hit {
	const char	*id;		/* owned by the ruleset */
	const char	*title;		/* owned by the ruleset */
	const char	*category;	/* canonical static string */
	enum urgency	 urgency;
	int		 score;
	int		 testing;	/* status: testing (never forwarded) */
	size_t		 nspans;
	struct span	*spans;		/* owned by the decision */
};

struct decision {
	const char	*category;	/* canonical string, NULL = no desk */
	enum urgency	 urgency;	/* URG_NONE iff category == NULL */
	int		 score;
	size_t		 nhits;
	struct rule_hit	*hits;		/* every rule that fired, stable and
					 * testing, in rule order */
	char		*excerpt;	/* normalised text (capped), owned */
	int		 model;		/* what the word model did: MODEL_* */
};

/* decision.model: the word model (rules_model.h) left the rules' choice,
 * chose another category, forwarded a message no rule category reached,
 * or kept from a desk a message the rules would have forwarded. */
enum { MODEL_KEPT = 0, MODEL_OTHER, MODEL_FORWARDED, MODEL_VETOED };

struct ruleset;

/* Loads and compiles every *.yaml / *.yml / *.rules file under dir (sorted
 * by name). All problems go to d as file:line:col: message. Returns NULL
 * if there was any error; caller frees with ruleset_free. */
struct ruleset *ruleset_load(const char *dir, struct diag *d);
void ruleset_free(struct ruleset *rs);
size_t ruleset_count(const struct ruleset *rs);

/* Decides on one message. text need not be valid UTF-8 or NUL-terminated.
 * Fills out (caller releases with decision_clear). Safe to call from
 * several threads on one ruleset. Returns 0, or -1 on internal error
 * (out is then empty: category NULL). */
int ruleset_decide(const struct ruleset *rs, const char *text, size_t len,
    struct decision *out);
void decision_clear(struct decision *d);

/* Per-rule hit counters since load (for `bartctl rules stats`). Calls fn
 * for each rule in order. */
void ruleset_foreach_stat(const struct ruleset *rs,
    void (*fn)(void *arg, const char *id, const char *status,
    uint64_t hits), void *arg);

/* Why a rule or cue did or did not fire (`bartctl rules explain`). */
struct rule_explain {
	const char		*id;
	const char		*title;
	const char		*category;	/* NULL for a cue */
	int			 cue;		/* an urgency cue */
	const char		*cue_effect;	/* "raise to spoed", ... */
	int			 testing;
	int			 score;
	enum urgency		 urgency;
	int			 fired;
	const char		*why;		/* one line a part */
	size_t			 nspans;
	const struct span	*spans;		/* in the original text */
};

/* Decides like ruleset_decide (out filled the same way) and calls fn for
 * every rule and cue that fired or nearly fired (some word of it
 * occurred), in rule order. Pointers in e are valid during the call. */
int ruleset_explain(const struct ruleset *rs, const char *text, size_t len,
    void (*fn)(void *arg, const struct rule_explain *e), void *arg,
    struct decision *out);

/* Lints the rule set and runs every rule's examples and counter-examples;
 * a regex that backtracks catastrophically is an error. Problems go to d
 * as file:line:col. Returns the number of errors added. */
size_t ruleset_check(const struct ruleset *rs, struct diag *d);

/* Threshold a category's summed score must reach. */
int ruleset_threshold(const struct ruleset *rs);

/* Normalises text as the rules see it (with the set's abbreviations). */
struct normtext;
void ruleset_normalise(const struct ruleset *rs, const char *text, size_t len,
    struct normtext *nt);
/* Features and messages of the set's word model (0, 0 without one). */
void ruleset_model_size(const struct ruleset *rs, size_t *features,
    unsigned long *messages);

#endif
