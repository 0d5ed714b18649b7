/* deliver_open311.c: municipal desks that take Open311 GeoReport v2
 * (type: open311). A report becomes one service request:
 *
 *   POST {url}/requests.json   (application/x-www-form-urlencoded)
 *   api_key, service_code (the desk's service_codes by category, else
 *   its "default"), description (the message, category, urgency,
 *   neighbourhood, "ref <8 characters>"), lat/long when the report's
 *   neighbourhood has a location, address_string when the report has an
 *   address, jurisdiction_id when configured, attribute[bart_report_id].
 *
 * The answer, [{"service_request_id": "..."}] or [{"token": "..."}], is
 * kept as the outbox row's remote_ref. A 2xx without a usable id still
 * counts as delivered (logged).
 *
 * Updates: GeoReport v2 has no call to amend a request, and a second
 * request for the same incident is exactly the near-duplicate a desk
 * must not get. So an update is not sent: it is recorded as delivered
 * and the log names the request the desk already has. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deliver.h"
#include "deliver_text.h"
#include "log.h"
#include "util.h"

#define O311_DESC_TEXT_MAX	3000	/* bytes of the message */
#define O311_REF_MAX		128	/* bytes of a service_request_id */

static const char *
service_code(const struct cfg_desk *desk, const char *category)
{
	const char *def = NULL;

	for (size_t i = 0; i < desk->nservice_codes; i++) {
		if (strcmp(desk->service_codes[i].category, category) == 0)
			return desk->service_codes[i].code;
		if (strcmp(desk->service_codes[i].category, "default") == 0)
			def = desk->service_codes[i].code;
	}
	return def;
}

/* Appends name=value, both escaped, to a form body. */
static void
form_add(struct buf *b, CURL *h, const char *name, const char *value)
{
	char *n = curl_easy_escape(h, name, 0);
	char *v = curl_easy_escape(h, value, 0);

	if (n == NULL || v == NULL)
		fatalx("curl_easy_escape");
	buf_printf(b, "%s%s=%s", b->len ? "&" : "", n, v);
	curl_free(n);
	curl_free(v);
}

/* The description: what a person at the desk reads first. Caller
 * frees. */
static char *
description(const struct desk_report *r)
{
	struct buf b = { 0 };
	char when[40];
	char *text = desk_text_cut(r->text, O311_DESC_TEXT_MAX);

	desk_report_when(r, when, sizeof(when));
	buf_printf(&b, "%s\n\nCategorie: %s, urgentie: %s. Buurt: %s. "
	    "Gemeld in een buurtpreventie-chat op %s. ref %s", text,
	    r->category, r->urgency, *r->nb_name ? r->nb_name : "onbekend",
	    when, r->ref);
	free(text);
	return buf_steal(&b);
}

static int
open311_prepare(const struct cfg_desk *desk, const struct outbox_item *item,
    CURL *h, struct curl_slist **hdrs, char **body, curl_mime **mime,
    char **error)
{
	struct desk_report r;
	struct buf f = { 0 };
	const char *code;
	char *url, *v, num[32];

	(void)mime;
	if (item->version > 0) {
		if (item->remote_ref)
			log_info("report %s to %s: update %d not sent (Open311 "
			    "has no updates; the desk has request %s)",
			    item->report_id, desk->id, item->version,
			    item->remote_ref);
		else
			log_info("report %s to %s: update %d not sent (Open311 "
			    "has no updates; no request id is known: see "
			    "bartctl outbox list)", item->report_id, desk->id,
			    item->version);
		return 1;
	}
	if (desk_report_parse(item->report_json, &r) == -1) {
		*error = xstrdup("stored report is not valid JSON");
		return -1;
	}
	if ((code = service_code(desk, r.category)) == NULL) {
		*error = xasprintf("no service_code for category '%s' (add it "
		    "or a default to the desk's service_codes)", r.category);
		desk_report_clear(&r);
		return -1;
	}
	form_add(&f, h, "api_key", desk->api_key);
	if (desk->jurisdiction_id)
		form_add(&f, h, "jurisdiction_id", desk->jurisdiction_id);
	form_add(&f, h, "service_code", code);
	v = description(&r);
	form_add(&f, h, "description", v);
	free(v);
	if (r.has_location) {
		snprintf(num, sizeof(num), "%.6f", r.lat);
		form_add(&f, h, "lat", num);
		snprintf(num, sizeof(num), "%.6f", r.lon);
		form_add(&f, h, "long", num);
	}
	if (*r.address)
		form_add(&f, h, "address_string", r.address);
	form_add(&f, h, "attribute[bart_report_id]", r.id);
	desk_report_clear(&r);
	*body = buf_steal(&f);

	*hdrs = curl_slist_append(*hdrs,
	    "Content-Type: application/x-www-form-urlencoded");
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	v = xasprintf("Idempotency-Key: %s", item->report_id);
	*hdrs = curl_slist_append(*hdrs, v);
	free(v);
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	url = xasprintf("%s%srequests.json", desk->url,
	    desk->url[strlen(desk->url) - 1] == '/' ? "" : "/");
	curl_easy_setopt(h, CURLOPT_URL, url);	/* libcurl copies */
	free(url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, *body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(*body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	return 0;
}

/* A desk's id as we keep it: printable ASCII, capped; NULL if it is not
 * usable. Caller frees. */
static char *
usable_ref(json_t *v)
{
	char buf[32];
	const char *s;

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		return xstrdup(buf);
	}
	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	if (*s == '\0' || strlen(s) > O311_REF_MAX)
		return NULL;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return NULL;
	return xstrdup(s);
}

/* Logs the first GeoReport error ([{"code":..,"description":..}]). */
static void
log_desk_error(const struct cfg_desk *desk, long status, json_t *root)
{
	json_t *e = json_is_array(root) ? json_array_get(root, 0) : NULL;
	const char *d = NULL;
	char clean[201];
	size_t i;

	if (json_is_object(e) && json_is_string(json_object_get(e,
	    "description")))
		d = json_string_value(json_object_get(e, "description"));
	if (d == NULL)
		return;
	for (i = 0; d[i] && i < sizeof(clean) - 1; i++)
		clean[i] = (unsigned char)d[i] < 0x20 ||
		    (unsigned char)d[i] > 0x7e ? '?' : d[i];
	clean[i] = '\0';
	log_warnx("desk %s: Open311 answered %ld: %s", desk->id, status,
	    clean);
}

static enum deliver_outcome
open311_classify(const struct cfg_desk *desk, CURLcode rc, long status,
    const char *resp, size_t resplen, char **remote_ref)
{
	enum deliver_outcome out = deliver_http_outcome(rc, status);
	json_error_t e;
	json_t *root = NULL, *o;

	if (rc == CURLE_OK && resplen > 0 && resplen <= 64 * 1024)
		root = json_loadb(resp, resplen, 0, &e);
	if (out != DELIVER_OK) {
		log_desk_error(desk, status, root);
		goto done;
	}
	o = json_is_array(root) ? json_array_get(root, 0) : NULL;
	if (json_is_object(o) && (*remote_ref = usable_ref(json_object_get(o,
	    "service_request_id"))) == NULL)
		*remote_ref = usable_ref(json_object_get(o, "token"));
	if (*remote_ref == NULL)
		log_warnx("desk %s: Open311 accepted the request (status %ld) "
		    "but answered no usable service_request_id or token",
		    desk->id, status);
done:
	json_decref(root);
	return out;
}

const struct desk_backend desk_open311 = {
	"open311", open311_prepare, open311_classify, NULL
};
