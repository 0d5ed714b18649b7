/* store.h: SQLite (WAL) holding everything that must survive a crash:
 * room positions, reports, the desk outbox, the chat outbox, dedup and
 * audit. One struct store per thread. */
#ifndef BART_STORE_H
#define BART_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"

struct store;
struct report;

/* Opens (creating schema as needed). NULL on error with *errp set
 * (caller frees). Caller closes with store_close. */
struct store *store_open(const char *path, char **errp);
void store_close(struct store *s);

/* Last committed position of a room, or NULL (caller frees). */
char *store_position_get(struct store *s, enum network net,
    const char *account, const char *room);
/* Commits a position alone (e.g. catch-up finished, no report). */
int store_position_set(struct store *s, enum network net,
    const char *account, const char *room, const char *position);

/* 1 if (net, room, msgid) already produced reports, 0 if not, -1 error. */
int store_seen(struct store *s, enum network net, const char *room,
    const char *msgid);

/* Processed message m: stores its reports (with one outbox row per desk
 * each), the chat notices, the dedup key and m->position, in one
 * transaction. nreports may be 0 (position only). 0 or -1. */
struct chat_notice {
	const char	*body;
	const char	*txn_id;
	const char	*reply_to;
};
int store_commit(struct store *s, const struct message *m,
    struct report *const *reports, size_t nreports,
    const struct chat_notice *notices, size_t nnotices);

/* As store_commit; held: the deliveries wait for an operator (state
 * "held", released by store_outbox_set_retry). */
int store_commit_held(struct store *s, const struct message *m,
    struct report *const *reports, size_t nreports,
    const struct chat_notice *notices, size_t nnotices, int held);
/* Reports made in a room since (Unix ms); -1 on error. */
int64_t store_room_reports_since(struct store *s, enum network net,
    const char *room, int64_t since);
/* Deliveries a desk accepted since (Unix ms); -1 on error. */
int64_t store_desk_delivered_since(struct store *s, const char *desk,
    int64_t since);

/* Grouping: the report a follow-up belongs to. With reply_to, the report
 * that message produced; else the newest report of category in the room
 * created at or after since. 1 with *idp and *jsonp set (caller frees),
 * 0 if none, -1 on error. */
int store_open_report(struct store *s, enum network net, const char *room,
    const char *category, int64_t since, const char *reply_to, char **idp,
    char **jsonp);
/* A follow-up m merged into report_id: the new JSON and urgency, a
 * delivery of the update to each of desks (new desks get it as new), the
 * notices, the dedup key and the position, in one transaction. */
int store_update_report(struct store *s, const struct message *m,
    const char *report_id, const char *json, const char *urgency,
    char *const *desks, size_t ndesks, const struct chat_notice *notices,
    size_t nnotices);

/* Chat outbox: up to max pending rows for one account, oldest first, into
 * *out (caller frees each with chat_out_free and the array with free).
 * Returns the count or -1. */
int store_chat_pending(struct store *s, enum network net,
    const char *account, struct chat_out ***out, size_t max);
int store_chat_sent(struct store *s, int64_t id);
/* Queues a chat message (used by delivery for acknowledgements). */
int store_chat_add(struct store *s, enum network net, const char *account,
    const char *room, const char *body, const char *reply_to,
    const char *txn_id);

/* Desk outbox. */
struct outbox_item {
	int64_t		 id;
	char		*report_id;
	char		*desk;
	char		*report_json;
	char		*state;		/* pending, delivered, dead, held,
					 * dropped */
	int		 attempts;
	int64_t		 next_at;	/* Unix ms */
	char		*last_error;
	enum network	 network;	/* where the report came from */
	char		*account;
	char		*room;
	char		*msgid;
	int		 version;	/* 0 = the report, 1.. = updates */
	char		*status;	/* "new" or "updated" */
	char		*remote_ref;	/* the desk's id for the report (e.g.
					 * Open311 service_request_id), from
					 * the first delivery; NULL if none */
};
/* Frees the items and the array. */
void store_outbox_free(struct outbox_item *items, size_t n);
/* Pending items due at now (next_at <= now), oldest first, at most max,
 * into *out (caller frees with store_outbox_free). Count or -1. */
int store_outbox_due(struct store *s, int64_t now, struct outbox_item **out,
    size_t max);
/* Every item (state NULL) or those in one state, for operators. */
int store_outbox_list(struct store *s, const char *state,
    struct outbox_item **out, size_t max);
/* Earliest next_at of a pending item, or -1 if none. */
int64_t store_outbox_next_at(struct store *s);
/* Marks delivered and, in the same transaction, queues the room notice
 * (body, txn_id; NULL body = none) for the room the report came from. */
int store_outbox_delivered(struct store *s, int64_t id, int64_t now,
    const char *notice, const char *txn_id);
/* Records the desk's own id for a delivered item (e.g. Open311
 * service_request_id or token). */
int store_outbox_set_ref(struct store *s, int64_t id, const char *ref);
int store_outbox_retry(struct store *s, int64_t id, int attempts,
    int64_t next_at, const char *error);
int store_outbox_dead(struct store *s, int64_t id, int attempts,
    const char *error);
/* Operator: dead or pending item back to pending now (retry) or to
 * dropped. Returns rows changed or -1. */
int store_outbox_set_retry(struct store *s, int64_t id, int64_t now);
int store_outbox_drop(struct store *s, int64_t id);

/* Counts for status displays: reports, pending, delivered, dead. */
struct store_counts {
	int64_t	reports, pending, delivered, dead, chat_pending;
};
int store_counts(struct store *s, struct store_counts *c);

/* Deletes reports older than before (Unix ms) and what hangs off them. */
int store_expire(struct store *s, int64_t before);

#endif
