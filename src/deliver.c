/* deliver.c: the delivery thread and the webhook backend. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "log.h"
#include "report.h"
#include "util.h"

#define DELIVER_MAX_INFLIGHT	32
#define DELIVER_BACKOFF_BASE	1000
#define DELIVER_BACKOFF_CAP	(5 * 60 * 1000)
#define DELIVER_ERRLEN		200
#define DELIVER_RESP_MAX	(64 * 1024)

struct inflight {
	struct outbox_item	 item;		/* id, report, desk, version */
	int			 attempts;
	CURL			*h;
	struct curl_slist	*hdrs;
	char			*body;
	curl_mime		*mime;
	struct buf		 resp;		/* capped response body */
	const struct cfg_desk	*cfg;
	const struct desk_backend *backend;
	int64_t			 retry_after;	/* ms from a 429/503 */
};

static void deliver_local(struct store *, const struct cfg_desk *,
    const struct outbox_item *);
static void record(struct store *, const struct cfg_desk *,
    const struct outbox_item *, int, enum deliver_outcome, const char *,
    int64_t, const char *);

/* Keeps the first DELIVER_RESP_MAX bytes of a response body. */
static size_t
keep_body(char *p, size_t sz, size_t n, void *arg)
{
	struct inflight *f = arg;
	size_t len = sz * n;

	if (f->resp.len < DELIVER_RESP_MAX)
		buf_append(&f->resp, p, len < DELIVER_RESP_MAX - f->resp.len ?
		    len : DELIVER_RESP_MAX - f->resp.len);
	return len;
}

static size_t
header_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct inflight *f = arg;
	size_t len = sz * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		long s = strtol(p + 12, NULL, 10);
		if (s > 0 && s < 24 * 3600)
			f->retry_after = (int64_t)s * 1000;
	}
	return len;
}

static int
webhook_prepare(const struct cfg_desk *desk, const struct outbox_item *item,
    CURL *h, struct curl_slist **hdrs, char **body, curl_mime **mime,
    char **error)
{
	char *hdr;

	(void)mime;
	*body = report_desk_payload(item->report_json, desk->id,
	    item->status ? item->status : "new");
	if (*body == NULL) {
		*error = xstrdup("stored report is not valid JSON");
		return -1;
	}
	*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
	hdr = xasprintf("Idempotency-Key: %s", item->report_id);
	*hdrs = curl_slist_append(*hdrs, hdr);
	free(hdr);
	if (desk->secret) {
		char mac[65];
		hmac_sha256_hex(desk->secret, strlen(desk->secret), *body,
		    strlen(*body), mac);
		hdr = xasprintf("X-Bart-Signature: sha256=%s", mac);
		*hdrs = curl_slist_append(*hdrs, hdr);
		free(hdr);
	}
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, desk->url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, *body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(*body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	return 0;
}

enum deliver_outcome
deliver_http_outcome(CURLcode rc, long status)
{
	if (rc != CURLE_OK)
		return DELIVER_RETRY;	/* timeouts, refused, reset, TLS */
	if (status >= 200 && status < 300)
		return DELIVER_OK;
	if (status >= 500 || status == 408 || status == 429)
		return DELIVER_RETRY;
	return DELIVER_DEAD;
}

static enum deliver_outcome
webhook_classify(const struct cfg_desk *desk, CURLcode rc, long status,
    const char *resp, size_t resplen, char **remote_ref)
{
	(void)desk;
	(void)resp;
	(void)resplen;
	(void)remote_ref;
	return deliver_http_outcome(rc, status);
}

const struct desk_backend desk_webhook = {
	"webhook", webhook_prepare, webhook_classify, NULL
};

static const struct desk_backend *
backend_for(const struct cfg_desk *desk)
{
	switch (desk->type) {
	case DESK_OPEN311:
		return &desk_open311;
	case DESK_EMAIL:
		return &desk_email;
	case DESK_XMPP_ROOM:
	case DESK_MATRIX_ROOM:
		return &desk_room;
	case DESK_WEBHOOK:
	default:
		return &desk_webhook;
	}
}

char *
deliver_notice(const struct cfg_desk *desk, const char *report_id)
{
	char ref[9];

	report_ref(report_id, ref);
	return xasprintf("Melding doorgezet naar %s (ref %s).", desk->name,
	    ref);
}

static void
inflight_free(struct inflight *f)
{
	if (f == NULL)
		return;
	if (f->h)
		curl_easy_cleanup(f->h);
	curl_slist_free_all(f->hdrs);
	curl_mime_free(f->mime);
	buf_free(&f->resp);
	free(f->body);
	free(f->item.report_id);
	free(f->item.desk);
	free(f);
}

static int
is_inflight(struct inflight **fl, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (fl[i] && fl[i]->item.id == id)
			return 1;
	return 0;
}

/* True if desk already took rate_per_minute deliveries in the last
 * minute, counting those in flight. */
static int
over_rate(struct store *st, const struct cfg_desk *desk,
    struct inflight **fl)
{
	int64_t n = store_desk_delivered_since(st, desk->id,
	    now_ms() - 60000);

	for (size_t i = 0; i < DELIVER_MAX_INFLIGHT; i++)
		if (fl[i] && strcmp(fl[i]->item.desk, desk->id) == 0)
			n++;
	return n >= desk->rate_per_minute;
}

/* Starts transfers for due items; returns the new in-flight count. */
static size_t
start_due(struct deliver_env *env, struct store *st, CURLM *multi,
    struct inflight **fl, size_t nfl)
{
	struct outbox_item *items;
	int n;

	if (nfl >= DELIVER_MAX_INFLIGHT)
		return nfl;
	n = store_outbox_due(st, now_ms(), &items, DELIVER_MAX_INFLIGHT);
	if (n <= 0)
		return nfl;
	for (int i = 0; i < n && nfl < DELIVER_MAX_INFLIGHT; i++) {
		struct outbox_item *it = &items[i];
		const struct cfg_desk *desk;
		struct inflight *f;
		char *error = NULL;
		int prc;

		if (is_inflight(fl, DELIVER_MAX_INFLIGHT, it->id))
			continue;
		if ((desk = config_desk(env->cfg, it->desk)) == NULL) {
			/* Desk removed from the config: keep it visible. */
			store_outbox_dead(st, it->id, it->attempts,
			    "desk is no longer configured");
			log_warnx("report %s: desk %s is not configured; "
			    "dead-lettered", it->report_id, it->desk);
			continue;
		}
		if (desk->rate_per_minute > 0 && over_rate(st, desk, fl)) {
			/* Held back, not dropped: due again in a while. */
			store_outbox_retry(st, it->id, it->attempts,
			    now_ms() + 60000 / desk->rate_per_minute + 1,
			    "desk rate limit");
			continue;
		}
		if (backend_for(desk)->local != NULL) {
			deliver_local(st, desk, it);
			continue;
		}
		f = xcalloc(1, sizeof(*f));
		f->item.id = it->id;
		f->item.report_id = xstrdup(it->report_id);
		f->item.desk = xstrdup(it->desk);
		f->item.version = it->version;
		f->attempts = it->attempts + 1;
		f->cfg = desk;
		f->backend = backend_for(desk);
		if ((f->h = curl_easy_init()) == NULL)
			fatalx("curl_easy_init");
		if ((prc = f->backend->prepare(desk, it, f->h, &f->hdrs,
		    &f->body, &f->mime, &error)) == -1) {
			log_warnx("report %s to %s: %s; dead-lettered",
			    it->report_id, it->desk, error);
			store_outbox_dead(st, it->id, f->attempts, error);
			free(error);
			inflight_free(f);
			continue;
		}
		if (prc == 1) {		/* nothing to send for this item */
			record(st, desk, it, f->attempts, DELIVER_OK, NULL, 0,
			    NULL);
			inflight_free(f);
			continue;
		}
		/* Lease: not due again while in flight (or after a crash,
		 * until the attempt has surely timed out). */
		store_outbox_retry(st, it->id, it->attempts, now_ms() +
		    (int64_t)desk->timeout * 1000 + 5000, it->last_error);
		curl_easy_setopt(f->h, CURLOPT_PRIVATE, f);
		curl_easy_setopt(f->h, CURLOPT_TIMEOUT, (long)desk->timeout);
		curl_easy_setopt(f->h, CURLOPT_CONNECTTIMEOUT,
		    (long)(desk->timeout < 10 ? desk->timeout : 10));
		curl_easy_setopt(f->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(f->h, CURLOPT_USERAGENT, "bart/" VERSION);
		curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, keep_body);
		curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(f->h, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(f->h, CURLOPT_HEADERDATA, f);
		curl_easy_setopt(f->h, CURLOPT_PROTOCOLS_STR,
		    "http,https,smtp,smtps");
		curl_easy_setopt(f->h, CURLOPT_FOLLOWLOCATION, 0L);
		for (size_t j = 0; j < DELIVER_MAX_INFLIGHT; j++)
			if (fl[j] == NULL) {
				fl[j] = f;
				break;
			}
		curl_multi_add_handle(multi, f->h);
		nfl++;
		log_debug("report %s to %s: attempt %d", it->report_id,
		    it->desk, f->attempts);
	}
	store_outbox_free(items, (size_t)n);
	return nfl;
}

/* Records the outcome of an attempt: delivered (with the room notice,
 * only for the first delivery of a report), retry later, or dead. */
static void
record(struct store *st, const struct cfg_desk *desk,
    const struct outbox_item *it, int attempts, enum deliver_outcome out,
    const char *error, int64_t retry_after, const char *ref)
{
	int64_t delay;
	char *notice = NULL, *txn = NULL;

	if (out == DELIVER_RETRY && desk->max_attempts > 0 &&
	    attempts >= desk->max_attempts)
		out = DELIVER_DEAD;
	switch (out) {
	case DELIVER_OK:
		if (ref)
			store_outbox_set_ref(st, it->id, ref);
		if (it->version == 0) {
			notice = deliver_notice(desk, it->report_id);
			txn = xasprintf("ack-%s-%s", it->report_id, desk->id);
		}
		if (store_outbox_delivered(st, it->id, now_ms(), notice,
		    txn) == -1)
			log_warnx("report %s to %s: delivered, but the store "
			    "could not record it (will be sent again)",
			    it->report_id, desk->id);
		else
			log_info("report %s %sdelivered to %s (attempt %d)",
			    it->report_id, it->version ? "update " : "",
			    desk->id, attempts);
		free(notice);
		free(txn);
		break;
	case DELIVER_RETRY:
		delay = backoff_ms(attempts - 1, DELIVER_BACKOFF_BASE,
		    DELIVER_BACKOFF_CAP);
		if (retry_after > delay)
			delay = retry_after < DELIVER_BACKOFF_CAP ?
			    retry_after : DELIVER_BACKOFF_CAP;
		store_outbox_retry(st, it->id, attempts, now_ms() + delay,
		    error);
		log_warnx("report %s to %s: %s; retry %d in %.1f s",
		    it->report_id, desk->id, error, attempts,
		    (double)delay / 1000);
		break;
	case DELIVER_DEAD:
		store_outbox_dead(st, it->id, attempts, error);
		log_warnx("report %s to %s: %s; dead-lettered (bartctl outbox "
		    "retry %lld)", it->report_id, desk->id, error,
		    (long long)it->id);
		break;
	}
}

static void
deliver_local(struct store *st, const struct cfg_desk *desk,
    const struct outbox_item *it)
{
	char *error = NULL;
	enum deliver_outcome out;

	out = backend_for(desk)->local(desk, it, st, &error);
	record(st, desk, it, it->attempts + 1, out,
	    error ? error : "failed", 0, NULL);
	free(error);
}

static void
finish(struct store *st, struct inflight *f, CURLcode rc)
{
	long status = 0;
	char error[DELIVER_ERRLEN];
	char *ref = NULL;
	enum deliver_outcome out;

	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
	if (f->resp.data == NULL)
		buf_append(&f->resp, "", 0);
	out = f->backend->classify(f->cfg, rc, status, f->resp.data,
	    f->resp.len, &ref);
	if (rc != CURLE_OK)
		snprintf(error, sizeof(error), "%s", curl_easy_strerror(rc));
	else
		snprintf(error, sizeof(error), "status %ld", status);
	record(st, f->cfg, &f->item, f->attempts, out, error, f->retry_after,
	    ref);
	free(ref);
}

void *
deliver_thread(void *arg)
{
	struct deliver_env *env = arg;
	struct inflight *fl[DELIVER_MAX_INFLIGHT] = { 0 };
	size_t nfl = 0;
	struct store *st;
	char *err = NULL;
	CURLM *multi;

	if ((st = store_open(env->db_path, &err)) == NULL)
		fatalx("delivery: %s", err);
	if ((multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init");
	env->multi = multi;
	atomic_store(&env->ready, 1);
	while (!atomic_load(env->stopping)) {
		int running, left, timeout = 1000;
		int64_t next;
		CURLMsg *msg;

		nfl = start_due(env, st, multi, fl, nfl);
		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct inflight *f = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&f);
			curl_multi_remove_handle(multi, msg->easy_handle);
			finish(st, f, msg->data.result);
			for (size_t j = 0; j < DELIVER_MAX_INFLIGHT; j++)
				if (fl[j] == f)
					fl[j] = NULL;
			inflight_free(f);
			nfl--;
		}
		next = store_outbox_next_at(st);
		if (next >= 0) {
			int64_t d = next - now_ms();
			if (d < timeout)
				timeout = d < 0 ? 0 : (int)d;
		}
		if (running > 0 && timeout > 100)
			timeout = 100;
		curl_multi_poll(multi, NULL, 0, timeout, NULL);
	}
	atomic_store(&env->ready, 0);
	for (size_t j = 0; j < DELIVER_MAX_INFLIGHT; j++)
		if (fl[j]) {
			curl_multi_remove_handle(multi, fl[j]->h);
			inflight_free(fl[j]);
		}
	env->multi = NULL;
	curl_multi_cleanup(multi);
	store_close(st);
	return NULL;
}

void
deliver_wake(struct deliver_env *env)
{
	if (atomic_load(&env->ready) && env->multi)
		curl_multi_wakeup(env->multi);
}
