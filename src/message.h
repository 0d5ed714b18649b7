/* message.h: what a connector hands to the core, and what the core hands
 * back to a connector to say in a room. Connectors only translate. */
#ifndef BART_MESSAGE_H
#define BART_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

enum network { NET_XMPP = 0, NET_MATRIX = 1 };

/* Caps on what peers can make us hold. */
#define MSG_TEXT_MAX	(64 * 1024)	/* longer texts are cut here */
#define MSG_ID_MAX	256		/* longer ids are refused */

/* One chat event. All strings are owned by the message (message_free). */
struct message {
	enum network	 network;
	char		*account;	/* config id of the account that saw it */
	char		*room;		/* room JID / Matrix room id */
	char		*msgid;		/* room-assigned id (stanza-id by room,
					 * Matrix event id): the dedup key */
	char		*position;	/* archive position to commit with this
					 * message (MAM id, sync token); NULL =
					 * do not move the position */
	char		*sender;	/* occupant JID / Matrix user id; only
					 * ever stored as an HMAC */
	char		*reply_to;	/* id of the message this replies to */
	int64_t		 ts;		/* server time, Unix ms (0 = unknown) */
	char		*text;		/* valid UTF-8, NUL-free; NULL for a
					 * position-only event */
	size_t		 textlen;
	int		 history;	/* came from the archive (catch-up) */
	const char	*neighbourhood;	/* optional: the configured room's
					 * neighbourhood id (points into the
					 * config, not freed); the core looks
					 * it up by room when NULL. Matrix sets
					 * it for rooms configured by alias. */
};

/* Frees the message and everything it owns. */
void message_free(struct message *m);

/* Something bart says in a room (acknowledgements, alerts). */
struct chat_out {
	int64_t		 id;		/* row id in the store */
	enum network	 network;
	char		*account;
	char		*room;
	char		*body;
	char		*reply_to;	/* message id to reply to, or NULL */
	char		*txn_id;	/* stable id: origin-id / Matrix txnId */
};
void chat_out_free(struct chat_out *c);

const char *network_name(enum network n);

#endif
