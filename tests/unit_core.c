/* unit_core.c: routing, report JSON, the store's transactions and
 * dedup, the spoed notice: the daemon's pipeline without any server. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "pipeline.h"
#include "report.h"
#include "route.h"
#include "rules.h"
#include "store.h"
#include "tap.h"
#include "util.h"

static struct config *
load(const char *name)
{
	struct diag d = { 0 };
	char *path = xasprintf("%s/tests/conf/%s", getenv("top_srcdir") ?
	    getenv("top_srcdir") : "..", name);
	struct config *cfg = config_load(path, &d);

	diag_print(&d, stdout);
	diag_free(&d);
	free(path);
	return cfg;
}

static struct message *
msg(const char *room, const char *id, const char *pos, const char *text)
{
	struct message *m = xcalloc(1, sizeof(*m));

	m->network = NET_XMPP;
	m->account = xstrdup("bart@localhost");
	m->room = xstrdup(room);
	m->msgid = id ? xstrdup(id) : NULL;
	m->position = pos ? xstrdup(pos) : NULL;
	m->sender = xstrdup("oost@conference.localhost/Anna");
	m->ts = 1700000000123LL;
	if (text) {
		m->text = xstrdup(text);
		m->textlen = strlen(text);
	}
	return m;
}

static void
test_routes(const struct config *cfg)
{
	const char *desks[8];
	struct route_input in = { "inbraak", URG_SPOED, "oost", NULL,
	    NET_XMPP, NULL, 0, 0 };
	int matched;
	size_t n;

	n = route_report(cfg, &in, desks, 8, &matched);
	is_int(n, 1, "spoed inbraak goes to one desk");
	is_str(n ? desks[0] : NULL, "politie-spoed", "... the control room");
	in.urgency = URG_NORMAAL;
	n = route_report(cfg, &in, desks, 8, &matched);
	is_str(n ? desks[0] : NULL, "politie", "normaal inbraak: police desk");
	in.category = "openbare-ruimte";
	n = route_report(cfg, &in, desks, 8, &matched);
	is_str(n ? desks[0] : NULL, "gemeente",
	    "openbare-ruimte: municipality");
	in.urgency = URG_INFO;
	n = route_report(cfg, &in, desks, 8, &matched);
	is_int(n, 0, "info goes nowhere");
	is_int(matched, -1, "... because no route matches");
}

/* Routes of tests/conf/routes.yaml with an injected clock. */
static const char *
route1(const struct config *cfg, const char *cat, enum urgency u,
    const char *nb, int net, const char *rule, const char *when,
    size_t *np)
{
	static const char *desks[8];
	const char *rules[1] = { rule };
	struct route_input in = { cat, u, nb, "r@muc", net, rules,
	    rule ? 1 : 0, parse_time_iso(when) };
	int matched;

	*np = route_report(cfg, &in, desks, 8, &matched);
	return *np ? desks[0] : "(none)";
}

static void
test_route_table(void)
{
	struct config *cfg = load("routes.yaml");
	size_t n;
	const char *d;

	ok(cfg != NULL, "routes.yaml loads");
	if (cfg == NULL)
		return;
	setenv("TZ", cfg->timezone, 1);
	tzset();
	/* Monday 23 Nov 2026, 10:00 in Amsterdam is 09:00Z. */
	d = route1(cfg, "overlast", URG_NORMAAL, "oost", NET_XMPP, NULL,
	    "2026-11-23T09:00:00Z", &n);
	is_str(d, "gemeente", "overlast on a weekday morning: municipality");
	d = route1(cfg, "overlast", URG_NORMAAL, "oost", NET_XMPP, NULL,
	    "2026-11-23T22:30:00Z", &n);
	is_str(d, "politie", "overlast at 23:30 local: police (night window)");
	d = route1(cfg, "overlast", URG_NORMAAL, "oost", NET_XMPP, NULL,
	    "2026-11-24T05:30:00Z", &n);
	is_str(d, "politie", "overlast at 06:30 local: still the night window");
	d = route1(cfg, "overlast", URG_NORMAAL, "oost", NET_XMPP, NULL,
	    "2026-11-22T11:00:00Z", &n);
	is_str(d, "politie", "overlast on Sunday noon: no municipal window, "
	    "the default route");
	d = route1(cfg, "overlast", URG_NORMAAL, "oost", NET_XMPP, NULL,
	    "2026-11-23T16:30:00Z", &n);
	is_str(d, "politie", "17:30 local is after the municipal window");
	d = route1(cfg, "brand", URG_SPOED, "oost", NET_XMPP, "gaslucht",
	    "2026-11-23T09:00:00Z", &n);
	is_int(n, 2, "gas smell: continue fans out to two desks");
	is_str(d, "brandweer", "... first the rule-id route");
	d = route1(cfg, "brand", URG_SPOED, "oost", NET_XMPP, "rook",
	    "2026-11-23T09:00:00Z", &n);
	is_str(d, "politie-spoed", "another fire rule: control room only");
	is_int(n, 1, "... one desk");
	d = route1(cfg, "openbare-ruimte", URG_NORMAAL, "west", NET_MATRIX,
	    NULL, "2026-11-23T09:00:00Z", &n);
	is_str(d, "gemeente-west", "neighbourhood + network route");
	d = route1(cfg, "openbare-ruimte", URG_NORMAAL, "west", NET_XMPP,
	    NULL, "2026-11-23T09:00:00Z", &n);
	is_str(d, "gemeente", "same neighbourhood over XMPP: general route");
	d = route1(cfg, "vermist", URG_INFO, "west", NET_XMPP, NULL,
	    "2026-11-23T09:00:00Z", &n);
	is_int(n, 0, "info matches no route");
	config_free(cfg);
}

static void
test_report(const struct config *cfg)
{
	struct message *m = msg("oost@conference.localhost", "s1", "s1",
	    "Ze breken nu in bij nr 12!");
	struct rule_hit hit = { "inbraak-nu", "Inbraak nu", "inbraak",
	    URG_SPOED, 5, 0, 1, NULL };
	struct span sp = { 3, 9 };
	struct decision d = { "inbraak", URG_SPOED, 5, 1, &hit, NULL };
	struct report *r;
	json_t *o, *v;
	char pseudo[65];

	hit.spans = &sp;
	r = report_build(cfg, m, &d, 1700000001000LL);
	ok(r != NULL, "a report is built");
	o = json_loads(r->json, 0, NULL);
	ok(o != NULL, "its JSON parses");
	is_int(json_integer_value(json_object_get(o, "schema_version")), 1,
	    "schema_version 1");
	is_str(json_string_value(json_object_get(o, "id")), r->id,
	    "id is the report id");
	is_int(strlen(r->id), 36, "id is a UUID");
	is_str(json_string_value(json_object_get(o, "category")), "inbraak",
	    "category");
	is_str(json_string_value(json_object_get(o, "urgency")), "spoed",
	    "urgency");
	is_str(json_string_value(json_object_get(o, "observed_at")),
	    "2023-11-14T22:13:20.123Z", "observed_at from the chat time");
	v = json_object_get(o, "neighbourhood");
	is_str(json_string_value(json_object_get(v, "name")), "Oost",
	    "neighbourhood from the room");
	report_pseudonym(cfg, NET_XMPP, m->sender, pseudo);
	is_str(json_string_value(json_object_get(o, "sender")), pseudo,
	    "sender is the pseudonym");
	ok(strstr(r->json, "Anna") == NULL, "the sender's nick is not in it");
	v = json_array_get(json_object_get(json_array_get(json_object_get(o,
	    "rules"), 0), "spans"), 0);
	is_str(json_string_value(json_object_get(v, "text")), "breken",
	    "matched span names the original words");
	is_str(json_string_value(json_array_get(json_object_get(o, "desks"),
	    0)), "politie-spoed", "desk chosen by the routes");
	json_decref(o);
	report_free(r);
	message_free(m);
}

static void
test_store(const struct config *cfg)
{
	char dir[] = "/tmp/bart-unit-XXXXXX";
	char *path, *err = NULL, *pos;
	struct store *st;
	struct message *m;
	struct report *r;
	struct rule_hit hit = { "x", "x", "geweld", URG_SPOED, 5, 0, 0, NULL };
	struct decision d = { "geweld", URG_SPOED, 5, 1, &hit, NULL };
	struct chat_notice cn = { "bel 112", "spoed-1", "s2" };
	struct outbox_item *items;
	struct chat_out **rows;
	int n;

	ok(mkdtemp(dir) != NULL, "temp dir");
	path = xasprintf("%s/bart.db", dir);
	st = store_open(path, &err);
	ok(st != NULL, "store opens");
	m = msg("oost@conference.localhost", "s2", "p2", "vechtpartij");
	r = report_build(cfg, m, &d, now_ms());
	is_int(store_commit(st, m, &r, 1, &cn, 1), 0, "commit");
	pos = store_position_get(st, NET_XMPP, m->account, m->room);
	is_str(pos, "p2", "position committed with the report");
	free(pos);
	is_int(store_seen(st, NET_XMPP, m->room, "s2"), 1,
	    "message id remembered for dedup");
	is_int(store_seen(st, NET_XMPP, m->room, "s3"), 0, "others are not");
	n = store_outbox_due(st, now_ms(), &items, 10);
	is_int(n, 1, "one delivery due");
	is_str(n == 1 ? items[0].desk : NULL, "politie-spoed", "to the desk");
	is_str(n == 1 ? items[0].report_id : NULL, r->id, "of the report");
	ok(n == 1 && store_outbox_retry(st, items[0].id, 1, now_ms() + 60000,
	    "HTTP 503") == 0, "retry later");
	store_outbox_free(items, (size_t)n);
	is_int(store_outbox_due(st, now_ms(), &items, 10), 0,
	    "nothing due while backing off");
	ok(store_outbox_next_at(st) > now_ms(), "next attempt in the future");
	n = store_chat_pending(st, NET_XMPP, m->account, &rows, 10);
	is_int(n, 1, "the spoed notice waits for the room");
	is_str(n == 1 ? rows[0]->body : NULL, "bel 112", "its text");
	for (int i = 0; i < n; i++) {
		store_chat_sent(st, rows[i]->id);
		chat_out_free(rows[i]);
	}
	free(rows);
	is_int(store_chat_pending(st, NET_XMPP, m->account, &rows, 10), 0,
	    "sent notices are not sent again");
	free(rows);
	report_free(r);
	message_free(m);

	/* A message that matches nothing moves the position only. */
	m = msg("oost@conference.localhost", "s4", "p4", "gezellig");
	is_int(store_commit(st, m, NULL, 0, NULL, 0), 0, "position-only");
	pos = store_position_get(st, NET_XMPP, m->account, m->room);
	is_str(pos, "p4", "position moved");
	free(pos);
	is_int(store_seen(st, NET_XMPP, m->room, "s4"), 0,
	    "unmatched messages leave no trace but the position");
	message_free(m);

	/* Retention: a report still waiting for its desk is kept. */
	{
		struct store_counts c;
		is_int(store_expire(st, now_ms() + 1000), 0, "expiry runs");
		store_counts(st, &c);
		is_int(c.reports, 1, "a report awaiting delivery is kept");
		n = store_outbox_list(st, "pending", &items, 10);
		if (n == 1)
			store_outbox_dead(st, items[0].id, 2, "HTTP 400");
		store_outbox_free(items, (size_t)n);
		store_expire(st, now_ms() + 1000);
		store_counts(st, &c);
		is_int(c.reports, 0, "once settled it expires");
		is_int(store_seen(st, NET_XMPP, "oost@conference.localhost",
		    "s2"), 0, "with its dedup key");
	}
	store_close(st);
	unlink(path);
	free(path);
	path = xasprintf("%s/bart.db-wal", dir);
	unlink(path);
	free(path);
	path = xasprintf("%s/bart.db-shm", dir);
	unlink(path);
	free(path);
	rmdir(dir);
}

/* Five messages about one break-in in two minutes: one report, and the
 * desk gets updates, not five reports. */
static void
test_grouping(const struct config *cfg)
{
	char dir[] = "/tmp/bart-group-XXXXXX";
	char *path, *err = NULL, *rdir;
	struct store *st;
	struct ruleset *rs;
	struct diag d = { 0 };
	struct pipeline_result res;
	struct outbox_item *items;
	struct store_counts cnt;
	const char *texts[] = {
		"ze zijn nu aan het inbreken bij nr 12",
		"ik zie hem ook, hij breekt in via de achterdeur",
		"nog steeds aan het inbreken, politie al onderweg?",
		"nu ook bij nr 14: hij breekt in",
		"ze zijn weg, ze waren aan het inbreken met z'n tweeen",
	};
	int64_t t0 = now_ms();
	int reports = 0, merged = 0, n;

	ok(mkdtemp(dir) != NULL, "temp dir");
	path = xasprintf("%s/bart.db", dir);
	st = store_open(path, &err);
	rdir = xasprintf("%s/tests/conf/rules", getenv("top_srcdir") ?
	    getenv("top_srcdir") : "..");
	rs = ruleset_load(rdir, &d);
	diag_print(&d, stdout);
	diag_free(&d);
	ok(rs != NULL && st != NULL, "rules and store");
	if (rs == NULL || st == NULL)
		return;
	for (size_t i = 0; i < nitems(texts); i++) {
		char id[16], pos[16];
		struct message *m;

		snprintf(id, sizeof(id), "g%zu", i);
		snprintf(pos, sizeof(pos), "p%zu", i);
		m = msg("oost@conference.localhost", id, pos, texts[i]);
		is_int(pipeline_process(cfg, rs, st, m, t0 + (int64_t)i * 25000,
		    &res), 0, "message %zu processed", i + 1);
		reports += res.reports;
		merged += res.corroborated;
		if (i == 1) {
			/* The desk accepts the first version meanwhile. */
			n = store_outbox_due(st, INT64_MAX, &items, 10);
			is_int(n, 1, "one delivery of the report so far");
			if (n == 1)
				store_outbox_delivered(st, items[0].id, now_ms(),
				    NULL, NULL);
			store_outbox_free(items, (size_t)n);
		}
		message_free(m);
	}
	is_int(reports, 1, "five messages: one report");
	is_int(merged, 4, "four follow-ups merged into it");
	store_counts(st, &cnt);
	is_int(cnt.reports, 1, "one report in the store");
	n = store_outbox_list(st, NULL, &items, 10);
	is_int(n, 2, "the desk gets the report and one pending update");
	if (n == 2) {
		json_t *o = json_loads(items[1].report_json, 0, NULL);
		is_str(items[0].status, "new", "first: new");
		is_str(items[1].status, "updated", "then: updated");
		is_str(items[1].report_id, items[0].report_id,
		    "with the same report id");
		is_int(json_array_size(json_object_get(o, "corroborations")),
		    4, "the update carries four corroborations");
		is_int(json_array_size(json_object_get(o, "message_ids")), 5,
		    "and all five message ids");
		json_decref(o);
	}
	store_outbox_free(items, (size_t)n);

	/* After the window a new message is a new report. */
	{
		struct message *m = msg("oost@conference.localhost", "g9",
		    "p9", "ze zijn weer aan het inbreken");
		pipeline_process(cfg, rs, st, m, t0 + 3600 * 1000, &res);
		is_int(res.reports, 1, "an hour later: a new report");
		message_free(m);
	}
	ruleset_free(rs);
	store_close(st);
	free(rdir);
	{
		char *cmd = xasprintf("rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# cleanup failed\n");
		free(cmd);
	}
	free(path);
}

static void
test_notice(const struct config *cfg)
{
	struct report r = { "0123456789abcdef", "inbraak", URG_SPOED, NULL, 0,
	    NULL };
	char *desks[] = { "politie-spoed" };
	char *s;

	r.desks = desks;
	r.ndesks = 1;
	s = pipeline_spoed_notice(cfg, &r);
	ok(strstr(s, "112") != NULL, "spoed notice says to call 112");
	ok(strstr(s, "ref 01234567") != NULL, "and gives the reference");
	ok(strstr(s, "doorgezet naar") == NULL,
	    "and does not claim it was delivered");
	free(s);
}

int
main(void)
{
	struct config *cfg = load("good.yaml");

	ok(cfg != NULL, "good.yaml loads");
	if (cfg == NULL)
		return done_testing();
	test_routes(cfg);
	test_route_table();
	test_report(cfg);
	test_store(cfg);
	test_notice(cfg);
	test_grouping(cfg);
	config_free(cfg);
	return done_testing();
}
