/* pipeline.h: one chat message through rules, report, routes and the
 * store, in one transaction with the room position. */
#ifndef BART_PIPELINE_H
#define BART_PIPELINE_H

#include <stdint.h>

#include "conf.h"
#include "message.h"
#include "rules.h"
#include "store.h"

struct pipeline_result {
	int	duplicate;	/* msgid already produced reports */
	int	reports;	/* reports stored */
	int	corroborated;	/* merged into an open report */
	int	deliveries;	/* outbox rows created */
};

/* Processes m (not freed). 0 on success (committed), -1 if the store
 * failed: nothing was committed and the caller may retry. */
int pipeline_process(const struct config *cfg, const struct ruleset *rs,
    struct store *st, const struct message *m, int64_t now,
    struct pipeline_result *res);

/* The immediate room notice for an urgent report (the 112 reminder);
 * caller frees. */
char *pipeline_spoed_notice(const struct config *cfg,
    const struct report *r);

#endif
