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

#endif
