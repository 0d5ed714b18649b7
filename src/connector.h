/* connector.h: what a chat connector thread gets from the daemon.
 * A connector only translates: chat events become struct message pushed
 * to env->inbox; rows of the chat outbox (store_chat_pending) become chat
 * messages. It opens its own store connection (store_open(env->db_path))
 * since SQLite handles are per thread here. */
#ifndef BART_CONNECTOR_H
#define BART_CONNECTOR_H

#include <stdatomic.h>

#include "conf.h"
#include "queue.h"

struct connector_env {
	const struct config	*cfg;
	struct queue		*inbox;		/* of struct message *; push
						 * passes ownership */
	const char		*db_path;	/* the store */
	atomic_int		*stopping;	/* set when bartd shuts down */
};

struct xmpp_args {
	const struct connector_env	*env;
	const struct cfg_xmpp		*acct;
};
/* Thread body: connects, joins, catches up, relays; returns when
 * *env->stopping is set. arg is a struct xmpp_args (not freed). */
void *xmpp_thread(void *arg);

struct matrix_args {
	const struct connector_env	*env;
	const struct cfg_matrix		*acct;
};
void *matrix_thread(void *arg);

#endif
