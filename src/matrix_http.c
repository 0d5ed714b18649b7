/* matrix_http.c: blocking HTTP requests to a Matrix homeserver and
 * defensive JSON parsing of what it answers. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "matrix_http.h"

static size_t
write_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct mx_resp *r = arg;
	size_t len = sz * n;

	if (r->body.len + len > MX_BODY_MAX) {
		r->toobig = 1;
		return 0;	/* aborts the transfer */
	}
	buf_append(&r->body, p, len);
	return len;
}

static size_t
header_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct mx_resp *r = arg;
	size_t len = sz * n;
	char tmp[64];
	long long v;
	char *end;

	if (len > 12 && len < sizeof(tmp) &&
	    strncasecmp(p, "Retry-After:", 12) == 0) {
		memcpy(tmp, p + 12, len - 12);
		tmp[len - 12] = '\0';
		v = strtoll(tmp, &end, 10);
		if (end != tmp && v >= 0 && v < 86400)
			r->retry_after_ms = v * 1000;
	}
	return len;
}

static int
progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct mx_http *x = arg;

	(void)dt; (void)dn; (void)ut; (void)un;
	return atomic_load(x->stopping) ? 1 : 0;
}

int
mx_http_init(struct mx_http *x, atomic_int *stopping)
{
	x->stopping = stopping;
	if ((x->h = curl_easy_init()) == NULL) {
		log_warnx("matrix: curl_easy_init failed");
		return -1;
	}
	return 0;
}

void
mx_http_free(struct mx_http *x)
{
	if (x->h)
		curl_easy_cleanup(x->h);
	x->h = NULL;
}

void
mx_resp_free(struct mx_resp *r)
{
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

int
mx_request(struct mx_http *x, const char *method, const char *url,
    const char *token, const char *body, long timeout_s, struct mx_resp *r)
{
	struct curl_slist *hdrs = NULL;
	char *auth = NULL;
	CURLcode rc;
	CURL *h = x->h;

	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "bart/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)MX_BODY_MAX);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (token) {
		/* The token lives only in this header; never in a URL, never
		 * in a log line (CURLOPT_VERBOSE stays off). */
		auth = xasprintf("Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body) {
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0 && body == NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);

	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (r->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		r->toobig = 1;
		snprintf(r->err, sizeof(r->err), "response larger than %d "
		    "bytes", MX_BODY_MAX);
		return -1;
	}
	if (rc != CURLE_OK) {
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof(r->err), "%s",
			    curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* Rewrites \uD800-\uDFFF escapes that are not part of a valid pair to
 * \uFFFD, in place (same length), so jansson accepts the document. */
static void
fix_surrogates(char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned v, w;

		if (s[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= n)
			break;
		if (s[i + 1] != 'u' || i + 6 > n ||
		    sscanf(s + i + 2, "%4x", &v) != 1 ||
		    !isxdigit((unsigned char)s[i + 2]) ||
		    !isxdigit((unsigned char)s[i + 3]) ||
		    !isxdigit((unsigned char)s[i + 4]) ||
		    !isxdigit((unsigned char)s[i + 5])) {
			i += 2;
			continue;
		}
		if (v >= 0xd800 && v <= 0xdbff && i + 12 <= n &&
		    s[i + 6] == '\\' && s[i + 7] == 'u' &&
		    isxdigit((unsigned char)s[i + 8]) &&
		    isxdigit((unsigned char)s[i + 9]) &&
		    isxdigit((unsigned char)s[i + 10]) &&
		    isxdigit((unsigned char)s[i + 11]) &&
		    sscanf(s + i + 8, "%4x", &w) == 1 &&
		    w >= 0xdc00 && w <= 0xdfff) {
			i += 12;
			continue;
		}
		if (v >= 0xd800 && v <= 0xdfff)
			memcpy(s + i + 2, "FFFD", 4);
		i += 6;
	}
}

json_t *
mx_json_parse(const char *data, size_t len)
{
	json_error_t err;
	json_t *root;
	size_t n;
	char *clean;

	if (data == NULL)
		return NULL;
	clean = utf8_sanitize(data, len, &n);
	fix_surrogates(clean, n);
	root = json_loadb(clean, n, JSON_ALLOW_NUL, &err);
	free(clean);
	if (root == NULL) {
		log_debug("matrix: bad JSON at line %d: %s", err.line,
		    err.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int64_t
mx_retry_after(const struct mx_resp *r, json_t *root)
{
	int64_t ms = -1;

	if (root && mx_jint(root, "retry_after_ms", &ms) == 0 && ms >= 0)
		;
	else if (r->retry_after_ms >= 0)
		ms = r->retry_after_ms;
	else
		ms = 1000;
	if (ms < 50)
		ms = 50;
	if (ms > 600000)
		ms = 600000;
	return ms;
}

const char *
mx_jstr(json_t *o, const char *key)
{
	json_t *v;

	if (!json_is_object(o) || (v = json_object_get(o, key)) == NULL ||
	    !json_is_string(v))
		return NULL;
	return json_string_value(v);
}

json_t *
mx_jobj(json_t *o, const char *key)
{
	json_t *v;

	if (!json_is_object(o) || (v = json_object_get(o, key)) == NULL ||
	    !json_is_object(v))
		return NULL;
	return v;
}

json_t *
mx_jarr(json_t *o, const char *key)
{
	json_t *v;

	if (!json_is_object(o) || (v = json_object_get(o, key)) == NULL ||
	    !json_is_array(v))
		return NULL;
	return v;
}

int
mx_jint(json_t *o, const char *key, int64_t *out)
{
	json_t *v;

	if (!json_is_object(o) || (v = json_object_get(o, key)) == NULL ||
	    !json_is_integer(v))
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

char *
mx_escape(const char *s)
{
	struct buf b = { 0 };
	static const char hx[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' ||
		    *p == '~') {
			buf_append(&b, p, 1);
		} else {
			char e[3] = { '%', hx[*p >> 4], hx[*p & 15] };
			buf_append(&b, e, 3);
		}
	}
	return buf_steal(&b);
}
