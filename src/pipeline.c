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

/* Merges m into an open report of its room (same category within the
 * window, or a reply to a reported message). 0 when merged and committed,
 * 1 when there is no such report, -1 on a store error. */
static int
follow_up(const struct config *cfg, struct store *st, const struct message *m,
    const struct decision *d, int64_t now, struct pipeline_result *res)
{
	char *id = NULL, *json = NULL, *njson = NULL, *body = NULL;
	char *txn = NULL, **desks = NULL;
	size_t ndesks = 0;
	enum urgency urg, old;
	struct chat_notice notice;
	int rc;

	rc = store_open_report(st, m->network, m->room, d->category,
	    now - (int64_t)cfg->group_window * 1000, m->reply_to, &id, &json);
	if (rc != 1)
		return rc == 0 ? 1 : -1;
	njson = report_corroborate(cfg, json, m, d, now, &urg, &old, &desks,
	    &ndesks);
	if (njson == NULL) {
		log_warnx("report %s: stored JSON unreadable; the follow-up "
		    "becomes a report of its own", id);
		rc = 1;
		goto out;
	}
	if (urg == URG_SPOED && old != URG_SPOED) {
		struct report r = { { 0 }, NULL, urg, desks, ndesks, NULL };
		snprintf(r.id, sizeof(r.id), "%s", id);
		body = pipeline_spoed_notice(cfg, &r);
		txn = xasprintf("spoed-%s-%s", id, m->msgid ? m->msgid : "");
		notice.body = body;
		notice.txn_id = txn;
		notice.reply_to = m->msgid;
	}
	rc = store_update_report(st, m, id, njson, urgency_name(urg), desks,
	    ndesks, &notice, body ? 1 : 0);
	if (rc == 0) {
		res->corroborated = 1;
		res->deliveries = (int)ndesks;
		log_info("report %s: follow-up merged (%s)", id,
		    urgency_name(urg));
	}
out:
	free(id);
	free(json);
	free(njson);
	free(body);
	free(txn);
	report_free_desks(desks, ndesks);
	return rc;
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
	int rc, seen, held = 0;

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
	if (d.category != NULL && cfg->group_window > 0) {
		rc = follow_up(cfg, st, m, &d, now, res);
		if (rc != 1) {
			decision_clear(&d);
			return rc;
		}
	}
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
	/* Urgent reports are never held back. */
	if (cfg->room_hourly_cap > 0 && r->ndesks > 0 &&
	    r->urgency != URG_SPOED &&
	    store_room_reports_since(st, m->network, m->room,
	    now - 3600 * 1000) >= cfg->room_hourly_cap) {
		held = 1;
		log_warnx("report %s: room %s made %d reports in the last "
		    "hour; held for an operator (bartctl outbox list held)",
		    r->id, m->room, cfg->room_hourly_cap);
	}
	rc = store_commit_held(st, m, &r, 1, &notice, body ? 1 : 0, held);
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
