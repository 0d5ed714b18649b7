/* deliver_email.c: desks that take e-mail (type: email), sent through
 * SMTP with libcurl. One message a report: a plain-text body for people
 * and the report JSON (the webhook payload) attached as
 * report-<id>.json for systems. The Message-ID is derived from the
 * report id (<id@bart>, updates <id.vN@bart> with In-Reply-To and
 * References to the first), so a mail client threads the updates and a
 * resent message after a crash carries the same id.
 *
 * smtp:// requires STARTTLS unless the desk says tls: plaintext (for
 * loopback tests); smtps:// is TLS from the start. SMTP answers 5xx are
 * permanent (dead-letter), 4xx and connection trouble are retried. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "deliver_text.h"
#include "log.h"
#include "report.h"
#include "util.h"

#define SUBJECT_PART_MAX	80	/* bytes of the neighbourhood name */
#define ENCWORD_RAW_MAX		45	/* bytes per RFC 2047 encoded word */

/* RFC 5322 date of ms (UTC, no locale) into out. */
static void
mail_date(int64_t ms, char *out, size_t outsz)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    wd[tm.tm_wday], tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
base64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		buf_append(b, q, 4);
	}
}

/* A header value: control characters become spaces; not ASCII becomes
 * RFC 2047 encoded words (UTF-8, base64), split on character
 * boundaries. Caller frees. */
static char *
header_value(const char *s)
{
	struct buf b = { 0 };
	char *clean = xstrdup(s);
	int ascii = 1;
	size_t n, i, start;

	for (char *p = clean; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
	}
	if (ascii)
		return clean;
	n = strlen(clean);
	for (start = 0; start < n; start = i) {
		i = start + ENCWORD_RAW_MAX < n ? start + ENCWORD_RAW_MAX : n;
		while (i > start + 1 && i < n &&
		    ((unsigned char)clean[i] & 0xc0) == 0x80)
			i--;
		buf_puts(&b, start ? " =?UTF-8?B?" : "=?UTF-8?B?");
		base64(&b, (const unsigned char *)clean + start, i - start);
		buf_puts(&b, "?=");
	}
	free(clean);
	return buf_steal(&b);
}

/* 1 if list holds exactly the desk's addresses, in order. */
static int
same_recipients(const struct curl_slist *l, const struct cfg_desk *desk)
{
	size_t i, n;

	for (i = 0; i < desk->nto; i++, l = l->next) {
		n = strlen(desk->to[i]);
		if (l == NULL || l->data[0] != '<' ||
		    strncmp(l->data + 1, desk->to[i], n) ||
		    strcmp(l->data + 1 + n, ">"))
			return 0;
	}
	return l == NULL;
}

/* The envelope recipients of a desk. libcurl keeps the pointer for the
 * whole transfer and prepare cannot hand it back to be freed, so each
 * desk's list is built once and kept for the life of the process (the
 * configuration is never reloaded; only the delivery thread calls
 * this). */
static struct curl_slist *
recipients(const struct cfg_desk *desk)
{
	static struct {
		const struct cfg_desk	*desk;
		struct curl_slist	*list;
	} *cache;
	static size_t ncache;
	struct curl_slist *l = NULL;

	for (size_t i = 0; i < ncache; i++)
		if (cache[i].desk == desk && same_recipients(cache[i].list,
		    desk))
			return cache[i].list;
	for (size_t i = 0; i < desk->nto; i++) {
		char *r = xasprintf("<%s>", desk->to[i]);
		l = curl_slist_append(l, r);
		free(r);
	}
	cache = xrealloc(cache, (ncache + 1) * sizeof(*cache));
	cache[ncache].desk = desk;
	cache[ncache++].list = l;
	return l;
}

static void
add_header(struct curl_slist **hdrs, const char *name, const char *value)
{
	char *h = xasprintf("%s: %s", name, value);

	*hdrs = curl_slist_append(*hdrs, h);
	free(h);
}

static int
email_prepare(const struct cfg_desk *desk, const struct outbox_item *item,
    CURL *h, struct curl_slist **hdrs, char **body, curl_mime **mime,
    char **error)
{
	struct desk_report r;
	struct buf to = { 0 };
	curl_mimepart *part;
	char date[64], *nb, *subject, *v, *text, *file, *mid, *first;

	if (desk_report_parse(item->report_json, &r) == -1) {
		*error = xstrdup("stored report is not valid JSON");
		return -1;
	}
	*body = report_desk_payload(item->report_json, desk->id,
	    item->status ? item->status : "new");
	if (*body == NULL) {
		desk_report_clear(&r);
		*error = xstrdup("stored report is not valid JSON");
		return -1;
	}

	mail_date(now_ms(), date, sizeof(date));
	add_header(hdrs, "Date", date);
	v = xasprintf("bart <%s>", desk->from);
	add_header(hdrs, "From", v);
	free(v);
	for (size_t i = 0; i < desk->nto; i++)
		buf_printf(&to, "%s<%s>", i ? ", " : "", desk->to[i]);
	add_header(hdrs, "To", to.data ? to.data : "");
	buf_free(&to);
	nb = desk_text_cut(*r.nb_name ? r.nb_name : "onbekende buurt",
	    SUBJECT_PART_MAX);
	subject = xasprintf("%s[bart] %s %s in %s (ref %s)",
	    item->version > 0 ? "Re: " : "", r.urgency, r.category, nb, r.ref);
	v = header_value(subject);
	add_header(hdrs, "Subject", v);
	free(v);
	free(subject);
	free(nb);
	first = xasprintf("<%s@bart>", r.id);
	if (item->version > 0) {
		mid = xasprintf("<%s.v%d@bart>", r.id, item->version);
		add_header(hdrs, "Message-ID", mid);
		add_header(hdrs, "In-Reply-To", first);
		add_header(hdrs, "References", first);
		free(mid);
	} else
		add_header(hdrs, "Message-ID", first);
	free(first);
	add_header(hdrs, "X-Bart-Report-Id", r.id);
	add_header(hdrs, "Auto-Submitted", "auto-generated");

	*mime = curl_mime_init(h);
	part = curl_mime_addpart(*mime);
	text = desk_report_mail_body(&r, item->version);
	curl_mime_data(part, text, CURL_ZERO_TERMINATED);
	curl_mime_type(part, "text/plain; charset=UTF-8");
	curl_mime_encoder(part, "quoted-printable");
	free(text);
	part = curl_mime_addpart(*mime);
	curl_mime_data(part, *body, CURL_ZERO_TERMINATED);
	curl_mime_type(part, "application/json");
	file = xasprintf("report-%s.json", r.id);
	curl_mime_filename(part, file);
	free(file);
	curl_mime_encoder(part, "base64");	/* one long line otherwise */

	v = xasprintf("<%s>", desk->from);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, v);	/* libcurl copies */
	free(v);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients(desk));
	curl_easy_setopt(h, CURLOPT_URL, desk->url);
	/* One connection a message: libcurl would otherwise reuse an idle
	 * SMTP connection of another desk to the same server, whatever its
	 * TLS and login. */
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	if (strncmp(desk->url, "smtp://", 7) == 0)
		curl_easy_setopt(h, CURLOPT_USE_SSL, desk->tls ==
		    TLS_PLAINTEXT ? (long)CURLUSESSL_NONE :
		    (long)CURLUSESSL_ALL);
	if (desk->username) {
		curl_easy_setopt(h, CURLOPT_USERNAME, desk->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, desk->password);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_MIMEPOST, *mime);
	desk_report_clear(&r);
	return 0;
}

static enum deliver_outcome
email_classify(const struct cfg_desk *desk, CURLcode rc, long status,
    const char *resp, size_t resplen, char **remote_ref)
{
	(void)resp;
	(void)resplen;
	(void)remote_ref;
	if (rc == CURLE_OK)
		return DELIVER_OK;
	if (status >= 500 && status < 600) {
		log_warnx("desk %s: the SMTP server refused the message "
		    "(%ld): permanent", desk->id, status);
		return DELIVER_DEAD;
	}
	if (status >= 400 && status < 500)
		log_warnx("desk %s: the SMTP server answered %ld: "
		    "temporary", desk->id, status);
	return DELIVER_RETRY;
}

const struct desk_backend desk_email = {
	"email", email_prepare, email_classify, NULL
};
