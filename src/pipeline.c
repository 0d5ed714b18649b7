/* pipeline.c: decide, build, route, commit. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipeline.h"
#include "report.h"
#include "util.h"

char *
pipeline_spoed_notice(const struct config *cfg, const struct report *r)
{
	struct buf b = { 0 };
	char ref[9];

	report_ref(r->id, ref);
	buf_puts(&b, "Dit klinkt dringend. Is er nu gevaar? Bel direct 112.");
	if (r->ndesks > 0) {
		buf_puts(&b, " bart stuurt de melding door naar ");
		for (size_t i = 0; i < r->ndesks; i++) {
			const struct cfg_desk *d = config_desk(cfg,
			    r->desks[i]);
			buf_printf(&b, "%s%s", i == 0 ? "" :
			    i + 1 == r->ndesks ? " en " : ", ",
			    d ? d->name : r->desks[i]);
		}
		buf_puts(&b, ", maar dat vervangt 112 niet.");
	}
	buf_printf(&b, " (ref %s)", ref);
	return buf_steal(&b);
}

int
pipeline_process(const struct config *cfg, const struct ruleset *rs,
    struct store *st, const struct message *m, int64_t now,
    struct pipeline_result *res)
{
	const struct cfg_room *room;
	struct decision d;
	struct report *r = NULL;
	struct chat_notice notice;
	char *body = NULL, *txn = NULL;
	int rc, seen;

	memset(res, 0, sizeof(*res));
	if (m->text == NULL)
		return store_commit(st, m, NULL, 0, NULL, 0);
	/* A desk's room: staff talk there, residents do not report. */
	if ((room = config_room(cfg, (int)m->network, m->account,
	    m->room)) != NULL && room->desk)
		return store_commit(st, m, NULL, 0, NULL, 0);
	if (m->msgid && (seen = store_seen(st, m->network, m->room,
	    m->msgid)) != 0) {
		if (seen == -1)
			return -1;
		res->duplicate = 1;
		return store_commit(st, m, NULL, 0, NULL, 0);
	}
	if (ruleset_decide(rs, m->text, m->textlen, &d) == -1)
		log_warnx("rules: internal error on a message in %s; not "
		    "forwarded", m->room);
	if (d.category != NULL)
		r = report_build(cfg, m, &d, now);
	decision_clear(&d);
	if (r == NULL)
		return store_commit(st, m, NULL, 0, NULL, 0);
	if (r->urgency == URG_SPOED) {
		body = pipeline_spoed_notice(cfg, r);
		txn = xasprintf("spoed-%s", r->id);
		notice.body = body;
		notice.txn_id = txn;
		notice.reply_to = m->msgid;
	}
	rc = store_commit(st, m, &r, 1, &notice, body ? 1 : 0);
	if (rc == 0) {
		res->reports = 1;
		res->deliveries = (int)r->ndesks;
		log_info("report %s: %s/%s from %s %s to %zu desk(s)", r->id,
		    r->category, urgency_name(r->urgency),
		    network_name(m->network), m->room, r->ndesks);
		if (r->ndesks == 0 && r->urgency != URG_INFO)
			log_warnx("report %s: no route leads to a configured "
			    "desk for %s/%s", r->id, r->category,
			    urgency_name(r->urgency));
	}
	free(body);
	free(txn);
	report_free(r);
	return rc;
}
