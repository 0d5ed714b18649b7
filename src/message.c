/* message.c: ownership of struct message and struct chat_out. */
#include "config.h"

#include <stdlib.h>

#include "message.h"

void
message_free(struct message *m)
{
	if (m == NULL)
		return;
	free(m->account);
	free(m->room);
	free(m->msgid);
	free(m->position);
	free(m->sender);
	free(m->reply_to);
	free(m->text);
	free(m);
}

void
chat_out_free(struct chat_out *c)
{
	if (c == NULL)
		return;
	free(c->account);
	free(c->room);
	free(c->body);
	free(c->reply_to);
	free(c->txn_id);
	free(c);
}

const char *
network_name(enum network n)
{
	return n == NET_MATRIX ? "matrix" : "xmpp";
}
