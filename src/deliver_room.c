/* deliver_room.c: desks that read reports in a chat room of their own
 * (type: xmpp-room or matrix-room). Delivery is local: the formatted
 * report is queued in the store's chat outbox for the configured account
 * and room, and that account's connector sends it like any other
 * message bart says. The txn id (XMPP origin-id, Matrix txnId) is
 * derived from report id, desk and version, and the chat outbox keeps
 * one row per txn id, so a report reaches the room once even when this
 * is run again after a crash.
 *
 * The room must be listed in the account's rooms with desk: true: the
 * connector joins it, and nothing said there is read as a report. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "deliver_text.h"
#include "log.h"
#include "util.h"

#define ROOM_TEXT_MAX		2000	/* bytes of the resident's message */
#define ROOM_FOLLOWUP_MAX	300	/* bytes of each follow-up */

/* The message desk staff read. Caller frees. */
static char *
room_message(const struct desk_report *r, int version)
{
	struct buf b = { 0 };
	char when[40];
	char *text, *words, *follow;
	int spoed = strcmp(r->urgency, "spoed") == 0;	/* stands out */

	desk_report_when(r, when, sizeof(when));
	text = desk_text_cut(r->text, ROOM_TEXT_MAX);
	words = desk_report_words(r, 200);
	follow = desk_report_followups(r, ROOM_FOLLOWUP_MAX);
	if (version > 0)
		buf_printf(&b, "UPDATE %d van melding %s: %s %s in %s\n",
		    version, r->ref, r->urgency, r->category,
		    *r->nb_name ? r->nb_name : "onbekende buurt");
	else
		buf_printf(&b, "[%s] %s in %s (ref %s)\n", spoed ? "SPOED" :
		    r->urgency, r->category, *r->nb_name ? r->nb_name :
		    "onbekende buurt", r->ref);
	buf_printf(&b, "\"%s\"\n", text);
	if (*follow)
		buf_printf(&b, "Later:\n%s", follow);
	buf_printf(&b, "Gezien %s in %s %s", when, r->network, r->room);
	if (r->has_location)
		buf_printf(&b, " (buurt bij %.5f, %.5f)", r->lat, r->lon);
	buf_puts(&b, "\n");
	if (*words)
		buf_printf(&b, "Herkend aan: %s\n", words);
	buf_printf(&b, "ref %s", r->ref);
	free(text);
	free(words);
	free(follow);
	return buf_steal(&b);
}

static enum deliver_outcome
room_local(const struct cfg_desk *desk, const struct outbox_item *item,
    struct store *st, char **error)
{
	struct desk_report r;
	enum network net = desk->type == DESK_MATRIX_ROOM ? NET_MATRIX :
	    NET_XMPP;
	char *body, *txn;
	int rc;

	if (desk_report_parse(item->report_json, &r) == -1) {
		*error = xstrdup("stored report is not valid JSON");
		return DELIVER_DEAD;
	}
	body = room_message(&r, item->version);
	txn = xasprintf("desk-%s-%s-v%d", r.id, desk->id, item->version);
	rc = store_chat_add(st, net, desk->account, desk->room, body, NULL,
	    txn);
	free(body);
	free(txn);
	desk_report_clear(&r);
	if (rc == -1) {
		*error = xstrdup("cannot queue the message for the desk's "
		    "room");
		return DELIVER_RETRY;
	}
	return DELIVER_OK;
}

const struct desk_backend desk_room = {
	"room", NULL, NULL, room_local
};
