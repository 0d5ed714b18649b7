/* fuzz_matrix_json.c: the defensive JSON parsing of homeserver responses
 * (invalid UTF-8, NULs, lone surrogates, wrong types). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "matrix_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = mx_json_parse((const char *)data, size), *rooms, *join;
	const char *k;
	json_t *v;
	int64_t n;

	if (o == NULL)
		return 0;
	(void)mx_jstr(o, "next_batch");
	(void)mx_jint(o, "retry_after_ms", &n);
	rooms = mx_jobj(o, "rooms");
	join = mx_jobj(rooms, "join");
	if (join)
		json_object_foreach(join, k, v) {
			json_t *tl = mx_jobj(v, "timeline");
			json_t *ev = mx_jarr(tl, "events");
			size_t i;
			json_t *e;
			json_array_foreach(ev, i, e) {
				(void)mx_jstr(e, "event_id");
				(void)mx_jstr(mx_jobj(e, "content"), "body");
			}
		}
	json_decref(o);
	return 0;
}
