/* report.c: builds the report JSON of DESIGN.md ("Report"). Pure. */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "log.h"
#include "report.h"
#include "route.h"
#include "util.h"

#define REPORT_MAX_DESKS	16

void
report_pseudonym(const struct config *cfg, enum network net,
    const char *addr, char out[65])
{
	char *msg = xasprintf("%s:%s", network_name(net), addr ? addr : "");

	hmac_sha256_hex(cfg->hmac_key, cfg->hmac_keylen, msg, strlen(msg),
	    out);
	free(msg);
}

void
report_ref(const char *id, char out[9])
{
	snprintf(out, 9, "%.8s", id);
}

static json_t *
jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
jtime(int64_t ms)
{
	char ts[40];

	if (ms <= 0)
		return json_null();
	fmt_time_ms(ms, ts, sizeof(ts));
	return json_string(ts);
}

static json_t *
neighbourhood_json(const struct cfg_neighbourhood *nb)
{
	json_t *o;

	if (nb == NULL)
		return json_null();
	o = json_pack("{s:s, s:s, s:o}", "id", nb->id, "name", nb->name,
	    "cbs_code", jstr(nb->cbs_code));
	if (nb->has_location)
		json_object_set_new(o, "location", json_pack("{s:f, s:f}",
		    "lat", nb->lat, "lon", nb->lon));
	else
		json_object_set_new(o, "location", json_null());
	return o;
}

static json_t *
rules_json(const struct message *m, const struct decision *d)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < d->nhits; i++) {
		const struct rule_hit *h = &d->hits[i];
		json_t *spans = json_array();

		if (h->testing)
			continue;
		for (size_t j = 0; j < h->nspans; j++) {
			const struct span *sp = &h->spans[j];
			if (sp->end > m->textlen || sp->start > sp->end)
				continue;
			json_array_append_new(spans, json_pack("{s:I, s:I, "
			    "s:s%}", "start", (json_int_t)sp->start, "end",
			    (json_int_t)sp->end, "text", m->text + sp->start,
			    sp->end - sp->start));
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:i, s:o}", "id", h->id, "title", h->title ? h->title :
		    h->id, "category", h->category ? h->category : "",
		    "urgency", urgency_name(h->urgency) ?
		    urgency_name(h->urgency) : "", "score", h->score,
		    "spans", spans));
	}
	return arr;
}

/* Desks for a decision on m (pointers into cfg), at most max. */
static size_t
desks_for(const struct config *cfg, const struct message *m,
    const char *nbid, const char *category, enum urgency urgency,
    const struct decision *d, int64_t now, const char **desks, size_t max)
{
	struct route_input in;
	const char **ruleids;
	int matched;
	size_t n;

	memset(&in, 0, sizeof(in));
	in.category = category;
	in.urgency = urgency;
	in.neighbourhood = nbid;
	in.room = m->room;
	in.network = (int)m->network;
	in.now = now;
	ruleids = xcalloc(d->nhits, sizeof(*ruleids));
	for (size_t i = 0; i < d->nhits; i++)
		if (!d->hits[i].testing)
			ruleids[in.nrules++] = d->hits[i].id;
	in.rules = ruleids;
	n = route_report(cfg, &in, desks, max, &matched);
	free(ruleids);
	return n;
}

/* The neighbourhood id of m's room, or NULL. */
static const char *
room_neighbourhood(const struct config *cfg, const struct message *m)
{
	const struct cfg_room *room;

	if (m->neighbourhood)
		return m->neighbourhood;
	if ((room = config_room(cfg, (int)m->network, m->account,
	    m->room)) != NULL)
		return room->neighbourhood;
	return NULL;
}

struct report *
report_build(const struct config *cfg, const struct message *m,
    const struct decision *d, int64_t now)
{
	struct report *r;
	const struct cfg_neighbourhood *nb = NULL;
	const char *nbid = room_neighbourhood(cfg, m);
	const char *desks[REPORT_MAX_DESKS];
	char sender[65];
	json_t *o, *jd, *delivery, *ids;
	size_t n;

	if (d->category == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	uuid_v4(r->id);
	r->category = d->category;
	r->urgency = d->urgency;
	if (nbid)
		nb = config_neighbourhood(cfg, nbid);
	n = desks_for(cfg, m, nbid, d->category, d->urgency, d, now, desks,
	    REPORT_MAX_DESKS);
	r->desks = xcalloc(n, sizeof(char *));
	jd = json_array();
	delivery = json_object();
	for (size_t i = 0; i < n; i++) {
		r->desks[r->ndesks++] = xstrdup(desks[i]);
		json_array_append_new(jd, json_string(desks[i]));
		json_object_set_new(delivery, desks[i], json_string("pending"));
	}
	report_pseudonym(cfg, m->network, m->sender, sender);
	ids = json_array();
	if (m->msgid)
		json_array_append_new(ids, json_string(m->msgid));
	o = json_object();
	json_object_set_new(o, "schema_version",
	    json_integer(REPORT_SCHEMA_VERSION));
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "created_at", jtime(now));
	json_object_set_new(o, "observed_at", jtime(m->ts ? m->ts : now));
	json_object_set_new(o, "network",
	    json_string(network_name(m->network)));
	json_object_set_new(o, "room", jstr(m->room));
	json_object_set_new(o, "neighbourhood", neighbourhood_json(nb));
	json_object_set_new(o, "message_ids", ids);
	json_object_set_new(o, "sender", json_string(sender));
	json_object_set_new(o, "text", json_stringn(m->text, m->textlen));
	json_object_set_new(o, "excerpt", jstr(d->excerpt));
	json_object_set_new(o, "category", json_string(d->category));
	json_object_set_new(o, "urgency",
	    json_string(urgency_name(d->urgency)));
	json_object_set_new(o, "score", json_integer(d->score));
	json_object_set_new(o, "rules", rules_json(m, d));
	json_object_set_new(o, "corroborations", json_array());
	json_object_set_new(o, "desks", jd);
	json_object_set_new(o, "delivery", delivery);
	r->json = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (r->json == NULL)
		fatalx("report: cannot serialise JSON");
	return r;
}

void
report_free_desks(char **desks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(desks[i]);
	free(desks);
}

char *
report_corroborate(const struct config *cfg, const char *json,
    const struct message *m, const struct decision *d, int64_t now,
    enum urgency *urgency, enum urgency *oldp, char ***desksp,
    size_t *ndesksp)
{
	json_t *o, *c, *jd, *delivery, *ids, *rules;
	const char *desks[REPORT_MAX_DESKS];
	char sender[65];
	char *out;
	enum urgency old;
	size_t n, i;

	*desksp = NULL;
	*ndesksp = 0;
	o = json_loads(json, 0, NULL);
	if (o == NULL || !json_is_object(o) ||
	    urgency_parse(json_string_value(json_object_get(o, "urgency")) ?
	    json_string_value(json_object_get(o, "urgency")) : "", &old) ==
	    -1 || !json_is_array(json_object_get(o, "desks")) ||
	    !json_is_object(json_object_get(o, "delivery")) ||
	    !json_is_array(json_object_get(o, "corroborations")) ||
	    !json_is_array(json_object_get(o, "message_ids"))) {
		json_decref(o);
		return NULL;
	}
	report_pseudonym(cfg, m->network, m->sender, sender);
	rules = json_array();
	for (i = 0; i < d->nhits; i++)
		if (!d->hits[i].testing)
			json_array_append_new(rules,
			    json_string(d->hits[i].id));
	c = json_object();
	json_object_set_new(c, "message_id", jstr(m->msgid));
	json_object_set_new(c, "sender", json_string(sender));
	json_object_set_new(c, "observed_at", jtime(m->ts ? m->ts : now));
	json_object_set_new(c, "text", json_stringn(m->text, m->textlen));
	json_object_set_new(c, "category", jstr(d->category));
	json_object_set_new(c, "urgency", jstr(urgency_name(d->urgency)));
	json_object_set_new(c, "rules", rules);
	json_array_append_new(json_object_get(o, "corroborations"), c);
	ids = json_object_get(o, "message_ids");
	if (m->msgid)
		json_array_append_new(ids, json_string(m->msgid));
	*urgency = *oldp = old;
	if (d->urgency > old && d->category) {
		*urgency = d->urgency;
		json_object_set_new(o, "urgency",
		    json_string(urgency_name(d->urgency)));
	}
	json_object_set_new(o, "updated_at", jtime(now));
	/* Desks: those it had, plus the routes for the (new) urgency. */
	jd = json_object_get(o, "desks");
	delivery = json_object_get(o, "delivery");
	n = desks_for(cfg, m, room_neighbourhood(cfg, m),
	    json_string_value(json_object_get(o, "category")), *urgency, d,
	    now, desks, REPORT_MAX_DESKS);
	for (i = 0; i < n; i++) {
		size_t j;
		json_t *v;
		json_array_foreach(jd, j, v)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), desks[i]) == 0)
				break;
		if (j == json_array_size(jd)) {
			json_array_append_new(jd, json_string(desks[i]));
			json_object_set_new(delivery, desks[i],
			    json_string("pending"));
		}
	}
	*desksp = xcalloc(json_array_size(jd), sizeof(char *));
	for (i = 0; i < json_array_size(jd); i++)
		if (json_is_string(json_array_get(jd, i)))
			(*desksp)[(*ndesksp)++] =
			    xstrdup(json_string_value(json_array_get(jd, i)));
	out = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return out;
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ndesks; i++)
		free(r->desks[i]);
	free(r->desks);
	free(r->json);
	free(r);
}

char *
report_desk_payload(const char *report_json, const char *desk,
    const char *status)
{
	json_error_t e;
	json_t *o = json_loads(report_json, 0, &e);
	char *s;

	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "desk", json_string(desk));
	json_object_set_new(o, "status", json_string(status));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}
