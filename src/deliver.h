/* deliver.h: the delivery thread. It takes due rows from the desk outbox,
 * sends them with libcurl multi through the desk's backend, and records
 * the outcome: delivered (and a notice for the room), retry later with
 * backoff, or dead-letter. At-least-once, the report id as idempotency
 * key. */
#ifndef BART_DELIVER_H
#define BART_DELIVER_H

#include <stdatomic.h>

#include <curl/curl.h>

#include "conf.h"
#include "store.h"

struct deliver_env {
	const struct config	*cfg;
	const char		*db_path;
	atomic_int		*stopping;
	CURLM			*multi;		/* set by the thread; used by
						 * deliver_wake */
	atomic_int		 ready;
};

/* What a backend does with the result of one attempt. */
enum deliver_outcome { DELIVER_OK, DELIVER_RETRY, DELIVER_DEAD };

/* A desk backend. Network backends set prepare and classify (the
 * delivery thread runs the transfer); local ones set local. */
struct desk_backend {
	const char	*type;
	/* Sets up h (URL, body, headers, upload) for item; *hdrs and *body
	 * are freed by the caller after the transfer, *mime too. 0, or -1
	 * with *error set (caller frees) when the item can never be sent
	 * (dead-letter), or 1 when there is nothing to send for this item
	 * (recorded as delivered, no transfer). */
	int		(*prepare)(const struct cfg_desk *desk,
			    const struct outbox_item *item, CURL *h,
			    struct curl_slist **hdrs, char **body,
			    curl_mime **mime, char **error);
	/* Classifies a finished transfer; resp is the response body
	 * (capped, NUL-terminated). May set *remote_ref (caller frees) to
	 * the desk's own id for the report. */
	enum deliver_outcome (*classify)(const struct cfg_desk *desk,
			    CURLcode rc, long status, const char *resp,
			    size_t resplen, char **remote_ref);
	/* Delivers without a transfer (e.g. queueing a message for a desk
	 * chat room in the store); *error set on RETRY/DEAD. */
	enum deliver_outcome (*local)(const struct cfg_desk *desk,
			    const struct outbox_item *item, struct store *st,
			    char **error);
};

extern const struct desk_backend desk_webhook;
extern const struct desk_backend desk_open311;	/* deliver_open311.c */
extern const struct desk_backend desk_email;	/* deliver_email.c */
extern const struct desk_backend desk_room;	/* deliver_room.c: xmpp-room,
						 * matrix-room */

/* Shared by HTTP backends: 2xx OK; 5xx, 408, 429 and transport errors
 * RETRY; other answers DEAD. */
enum deliver_outcome deliver_http_outcome(CURLcode rc, long status);

/* Thread body; arg is a struct deliver_env. Returns when *stopping. */
void *deliver_thread(void *arg);
/* Wakes the thread (new outbox rows); safe from any thread. */
void deliver_wake(struct deliver_env *env);

/* Text told to the room once a desk accepted a report. Caller frees. */
char *deliver_notice(const struct cfg_desk *desk, const char *report_id);

#endif
