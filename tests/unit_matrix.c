/* unit_matrix.c: what bart makes of a homeserver's bytes (matrix_http.c):
 * bodies with invalid UTF-8, escapes jansson refuses, NULs, wrong types,
 * 429 waits and URL escaping. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "matrix_http.h"
#include "util.h"
#include "tap.h"

/* The "body" string of a parsed document, or NULL; caller frees. */
static char *
body_of(const char *doc, size_t len)
{
	json_t *root = mx_json_parse(doc, len);
	const char *s;
	char *out = NULL;

	if (root && (s = mx_jstr(root, "body")) != NULL)
		out = xstrdup(s);
	json_decref(root);
	return out;
}

#define BODY(lit)	body_of(lit, sizeof(lit) - 1)

int
main(void)
{
	char *s;
	json_t *o;
	int64_t v;
	struct mx_resp r;

	log_init("unit_matrix", LOG_LVL_ERROR);

	s = BODY("{\"body\":\"inbraak nu\"}");
	is_str(s, "inbraak nu", "a plain body");
	free(s);
	s = BODY("{\"body\":\"caf\xc3\xa9 \xf0\x9f\x94\xa5\"}");
	is_str(s, "caf\xc3\xa9 \xf0\x9f\x94\xa5", "UTF-8 passes unchanged");
	free(s);
	s = BODY("{\"body\":\"a\xff\xfe" "b\xc3\"}");
	is_str(s, "a\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd",
	    "invalid UTF-8 bytes become U+FFFD instead of failing the parse");
	free(s);
	s = BODY("{\"body\":\"x\\ud83d\\udd25y\"}");
	is_str(s, "x\xf0\x9f\x94\xa5y", "an escaped surrogate pair is kept");
	free(s);
	s = BODY("{\"body\":\"x\\ud800y\"}");
	is_str(s, "x\xef\xbf\xbdy", "a lone high surrogate becomes U+FFFD");
	free(s);
	s = BODY("{\"body\":\"x\\udc00\\ud800\"}");
	is_str(s, "x\xef\xbf\xbd\xef\xbf\xbd",
	    "a low surrogate first and a trailing high one: both U+FFFD");
	free(s);
	s = BODY("{\"body\":\"x\\\\ud800y\"}");
	is_str(s, "x\\ud800y", "an escaped backslash before u is left alone");
	free(s);
	s = BODY("{\"body\":\"a\\u0000b\"}");
	ok(s != NULL && strncmp(s, "a", 2) == 0,
	    "an escaped NUL does not fail the parse");
	free(s);
	s = BODY("{\"body\":\"a\0b\"}");
	is_str(s, "ab", "a raw NUL byte is dropped");
	free(s);

	ok(mx_json_parse("[1,2]", 5) == NULL, "an array is not a response");
	ok(mx_json_parse("\"x\"", 3) == NULL, "a string is not a response");
	ok(mx_json_parse("{\"a\":", 5) == NULL, "cut-off JSON is refused");
	ok(mx_json_parse("<html>", 6) == NULL, "HTML is refused");
	ok(mx_json_parse(NULL, 0) == NULL, "no body is refused");
	ok(mx_json_parse("\\u", 2) == NULL, "a lone escape at the end");

	o = mx_json_parse("{\"s\":1,\"o\":[],\"a\":{},\"i\":\"7\"}", 29);
	ok(o != NULL, "a document with wrong types parses");
	ok(mx_jstr(o, "s") == NULL && mx_jobj(o, "o") == NULL &&
	    mx_jarr(o, "a") == NULL && mx_jint(o, "i", &v) == -1,
	    "and every getter refuses the wrong type");
	ok(mx_jstr(NULL, "x") == NULL && mx_jobj(o, "missing") == NULL,
	    "getters take NULL and missing keys");
	json_decref(o);

	memset(&r, 0, sizeof(r));
	r.retry_after_ms = -1;
	o = mx_json_parse("{\"retry_after_ms\":1500}", 23);
	is_int(mx_retry_after(&r, o), 1500, "429: retry_after_ms is used");
	json_decref(o);
	r.retry_after_ms = 3000;
	is_int(mx_retry_after(&r, NULL), 3000, "429: else Retry-After");
	r.retry_after_ms = -1;
	is_int(mx_retry_after(&r, NULL), 1000, "429: else one second");
	o = mx_json_parse("{\"retry_after_ms\":99999999999}", 30);
	is_int(mx_retry_after(&r, o), 600000, "429: at most ten minutes");
	json_decref(o);
	o = mx_json_parse("{\"retry_after_ms\":-5}", 21);
	is_int(mx_retry_after(&r, o), 1000, "429: a negative wait is ignored");
	json_decref(o);

	s = mx_escape("!abc:example.org/$x y?&#");
	is_str(s, "%21abc%3Aexample.org%2F%24x%20y%3F%26%23",
	    "ids are escaped for a URL path");
	free(s);
	s = mx_escape("ack-1a2b_3.c~");
	is_str(s, "ack-1a2b_3.c~", "unreserved characters stay");
	free(s);
	s = mx_escape("");
	is_str(s, "", "an empty string escapes to an empty string");
	free(s);
	return done_testing();
}
