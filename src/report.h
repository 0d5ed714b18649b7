/* report.h: a matched message as a structured report (JSON via jansson).
 * Pure: no I/O, time is passed in. */
#ifndef BART_REPORT_H
#define BART_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "message.h"
#include "rules.h"

#define REPORT_SCHEMA_VERSION	1

struct report {
	char		 id[37];	/* UUID v4 */
	const char	*category;	/* canonical static string */
	enum urgency	 urgency;
	char		**desks;	/* desk ids chosen by the routes */
	size_t		 ndesks;
	char		*json;		/* the report, serialised */
};

/* Builds the report for message m and decision d (d->category != NULL).
 * now is the creation time (Unix ms). Desks come from route_report.
 * Caller frees with report_free. */
struct report *report_build(const struct config *cfg, const struct message *m,
    const struct decision *d, int64_t now);
void report_free(struct report *r);

/* Pseudonymous id of a chat address: HMAC-SHA256(key, network ":" addr),
 * hex into out. */
void report_pseudonym(const struct config *cfg, enum network net,
    const char *addr, char out[65]);

/* The body a desk receives: the stored report JSON with "desk" and
 * "status" added. Caller frees. NULL if report_json is not valid. */
char *report_desk_payload(const char *report_json, const char *desk,
    const char *status);

/* Merges follow-up m (decision d) into the report JSON json: appends a
 * corroboration (message id, pseudonymous sender, time, text, rules),
 * the message id, raises the urgency if d's is higher and adds the desks
 * the routes give for the new urgency. Returns the new JSON (caller
 * frees) and sets *urgency, *old (the urgency before) and the full desk
 * list (*desks, caller frees with report_free_desks). NULL if json is not
 * a report. */
char *report_corroborate(const struct config *cfg, const char *json,
    const struct message *m, const struct decision *d, int64_t now,
    enum urgency *urgency, enum urgency *old, char ***desks,
    size_t *ndesks);
void report_free_desks(char **desks, size_t n);

/* Short reference shown in rooms: first 8 characters of the id. */
void report_ref(const char *id, char out[9]);

#endif
