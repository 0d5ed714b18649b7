/* route.h: which desks a report goes to. Pure. */
#ifndef BART_ROUTE_H
#define BART_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "rules.h"

struct route_input {
	const char	*category;
	enum urgency	 urgency;
	const char	*neighbourhood;
	const char	*room;
	int		 network;	/* enum network */
	const char *const *rules;	/* ids of the rules that fired */
	size_t		 nrules;
	int64_t		 now;		/* Unix ms, for time windows */
};

/* Fills desks (at most max, de-duplicated, pointers into cfg) following
 * the ordered routes: first match wins unless it says continue. Returns
 * the count. *matched gets the index of the first route that matched, or
 * -1 when none did. */
size_t route_report(const struct config *cfg, const struct route_input *in,
    const char **desks, size_t max, int *matched);

/* Why route r does or does not match in: NULL when it matches, else a
 * static phrase naming the first matcher that failed. */
const char *route_mismatch(const struct cfg_route *r,
    const struct route_input *in);

#endif
