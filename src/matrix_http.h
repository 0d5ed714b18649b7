/* matrix_http.h: one blocking HTTP request at a time against a Matrix
 * homeserver (libcurl easy handle per thread), with a cap on what the
 * server can make us hold, and defensive JSON helpers. */
#ifndef BART_MATRIX_HTTP_H
#define BART_MATRIX_HTTP_H

#include <stdatomic.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util.h"

#define MX_BODY_MAX	(8 * 1024 * 1024)	/* bigger responses fail */

struct mx_http {
	CURL		*h;
	atomic_int	*stopping;	/* aborts a transfer when set */
};

struct mx_resp {
	long		 status;	/* HTTP status; 0 = none */
	struct buf	 body;
	int		 toobig;	/* body exceeded MX_BODY_MAX */
	int64_t		 retry_after_ms; /* Retry-After header, -1 = none */
	char		 err[CURL_ERROR_SIZE];
};

int	mx_http_init(struct mx_http *x, atomic_int *stopping);
void	mx_http_free(struct mx_http *x);
/* Performs one request. token (may be NULL) goes into the Authorization
 * header only; body (may be NULL) is sent as application/json. Returns 0
 * when a response arrived (whatever its status), -1 on a transport error,
 * an oversized body or shutdown (r->err says which). Caller releases r with
 * mx_resp_free. */
int	mx_request(struct mx_http *x, const char *method, const char *url,
	    const char *token, const char *body, long timeout_s,
	    struct mx_resp *r);
void	mx_resp_free(struct mx_resp *r);

/* Parses a response body that may hold invalid UTF-8, NULs or lone
 * surrogate escapes (all replaced by U+FFFD); NULL unless the body is a
 * JSON object. Caller json_decref()s. */
json_t	*mx_json_parse(const char *data, size_t len);
/* Milliseconds to wait after a 429 (retry_after_ms, then the header,
 * else 1 s; capped at 10 min). root may be NULL. */
int64_t	 mx_retry_after(const struct mx_resp *r, json_t *root);
/* Field getters that check the type: NULL / -1 when absent or wrong. */
const char *mx_jstr(json_t *o, const char *key);
json_t	*mx_jobj(json_t *o, const char *key);
json_t	*mx_jarr(json_t *o, const char *key);
int	 mx_jint(json_t *o, const char *key, int64_t *out);
/* Percent-encoded copy of s for a URL path or query; caller frees. */
char	*mx_escape(const char *s);

#endif
