/* unit_desks.c: the desk backends for Open311, e-mail and desk chat
 * rooms, without a network: what they make of odd stored reports and of
 * what desks answer. (tests/desk-*.t run them against real servers.) */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "deliver_text.h"
#include "store.h"
#include "util.h"
#include "tap.h"

#define REPORT \
	"{\"id\":\"0123abcd-1111-4222-8333-444455556666\",\"category\":" \
	"\"openbare-ruimte\",\"urgency\":\"normaal\",\"text\":\"Lamp kapot " \
	"& donker = eng\",\"observed_at\":\"2026-11-23T16:40:12.345Z\"," \
	"\"network\":\"xmpp\",\"room\":\"r@muc\",\"neighbourhood\":{\"id\":" \
	"\"w\",\"name\":\"Kiëvitsbuurt\",\"cbs_code\":null,\"location\":" \
	"{\"lat\":52.1,\"lon\":4.2}},\"rules\":[{\"spans\":[{\"text\":" \
	"\"lamp\"},{\"text\":\"lamp\"},{\"text\":42}]}],\"corroborations\":" \
	"[{\"text\":\"nog steeds\",\"observed_at\":\"2026-11-23T16:45:00Z\"}," \
	"7]}"

static struct outbox_item
item(const char *json, int version)
{
	struct outbox_item it;

	memset(&it, 0, sizeof(it));
	it.id = 1;
	it.report_id = "0123abcd-1111-4222-8333-444455556666";
	it.desk = "d";
	it.report_json = (char *)json;
	it.version = version;
	it.status = version ? "updated" : "new";
	it.remote_ref = version ? "GR-1" : NULL;
	return it;
}

static void
test_text(void)
{
	struct desk_report r;
	char *s;

	ok(desk_report_parse("[1]", &r) == -1, "a non-object is refused");
	ok(desk_report_parse("{\"id\":5}", &r) == -1, "an id must be a string");
	ok(desk_report_parse("{\"id\":\"x\",\"id\":\"y\"}", &r) == -1,
	    "duplicate keys are refused");
	ok(desk_report_parse("{\"id\":\"abc\",\"urgency\":[]}", &r) == 0 &&
	    strcmp(r.urgency, "") == 0 && strcmp(r.category, "") == 0 &&
	    !r.has_location, "missing or mistyped fields become empty");
	desk_report_clear(&r);
	ok(desk_report_parse("{\"id\":\"abc\",\"neighbourhood\":{\"location\":"
	    "{\"lat\":91,\"lon\":4}}}", &r) == 0 && !r.has_location,
	    "a location out of range is not used");
	desk_report_clear(&r);
	s = desk_text_cut("ëëë", 3);
	is_str(s, "ë...", "cuts on a character boundary");
	free(s);
	s = desk_text_cut("abc", 3);
	is_str(s, "abc", "short texts stay as they are");
	free(s);
	ok(desk_report_parse(REPORT, &r) == 0, "the example report parses");
	s = desk_report_words(&r, 100);
	is_str(s, "\"lamp\"", "matched words once each, non-strings skipped");
	free(s);
	s = desk_report_followups(&r, 100);
	is_str(s, "- [16:45] nog steeds\n", "follow-ups with their time");
	free(s);
	s = desk_report_mail_body(&r, 2);
	ok(strstr(s, "Update 2 van melding 0123abcd") != NULL &&
	    strstr(s, "Lamp kapot & donker = eng") != NULL &&
	    strstr(s, "52.10000, 4.20000") != NULL,
	    "mail body of an update");
	free(s);
	desk_report_clear(&r);
}

/* 1 if s is RFC 2047 encoded words (at most 75 characters each)
 * separated by single spaces. */
static int
encoded_words_ok(const char *s)
{
	char *copy = xstrdup(s), *save = NULL;
	int good = 1;

	for (char *w = strtok_r(copy, " ", &save); w;
	    w = strtok_r(NULL, " ", &save))
		if (strncmp(w, "=?UTF-8?B?", 10) || strlen(w) > 75 ||
		    strcmp(w + strlen(w) - 2, "?=") || strchr(w + 10, '?') !=
		    w + strlen(w) - 2)
			good = 0;
	free(copy);
	return good;
}

static void
test_open311(void)
{
	struct cfg_service_code codes[] = { { "overlast", "OV" } };
	struct cfg_desk desk;
	struct outbox_item it;
	struct curl_slist *hdrs = NULL;
	curl_mime *mime = NULL;
	char *body = NULL, *err = NULL, *ref = NULL;
	CURL *h = curl_easy_init();
	char big[300];

	memset(&desk, 0, sizeof(desk));
	desk.id = "g";
	desk.type = DESK_OPEN311;
	desk.url = "http://127.0.0.1:1/v2";
	desk.api_key = "k&y";
	desk.service_codes = codes;
	desk.nservice_codes = 1;
	it = item(REPORT, 0);
	is_int(desk_open311.prepare(&desk, &it, h, &hdrs, &body, &mime, &err),
	    -1, "no service_code for the category: never sendable");
	ok(err && strstr(err, "'openbare-ruimte'"), "and the error says "
	    "which category (%s)", err ? err : "");
	free(err);
	err = NULL;
	codes[0].category = "default";
	is_int(desk_open311.prepare(&desk, &it, h, &hdrs, &body, &mime, &err),
	    0, "with a default service_code it is sent");
	ok(body && strncmp(body, "api_key=k%26y&service_code=OV&"
	    "description=Lamp%20kapot%20%26%20donker%20%3D%20eng", 76) == 0,
	    "form values are escaped (%.80s)", body ? body : "");
	ok(body && strstr(body, "&lat=52.100000&long=4.200000&") != NULL,
	    "lat/long from the neighbourhood");
	ok(body && strstr(body, "attribute%5Bbart_report_id%5D=0123abcd-") !=
	    NULL, "report id attribute");
	free(body);
	curl_slist_free_all(hdrs);
	body = NULL;
	hdrs = NULL;
	it = item(REPORT, 1);
	is_int(desk_open311.prepare(&desk, &it, h, &hdrs, &body, &mime, &err),
	    1, "an update: nothing to send");
	ok(body == NULL && hdrs == NULL, "and nothing prepared");
	it = item("not json", 0);
	is_int(desk_open311.prepare(&desk, &it, h, &hdrs, &body, &mime, &err),
	    -1, "a report that is not JSON is dead-lettered");
	free(err);
	curl_easy_cleanup(h);

#define CLASSIFY(rc, st, resp) \
	(free(ref), ref = NULL, desk_open311.classify(&desk, rc, st, resp, \
	    strlen(resp), &ref))
	is_int(CLASSIFY(CURLE_OK, 201, "[{\"service_request_id\":\"GR-9\"}]"),
	    DELIVER_OK, "201 with an id");
	is_str(ref, "GR-9", "the id is kept");
	CLASSIFY(CURLE_OK, 200, "[{\"service_request_id\":1234}]");
	is_str(ref, "1234", "a numeric id too");
	CLASSIFY(CURLE_OK, 200, "[{\"token\":\"t-1\"}]");
	is_str(ref, "t-1", "or a token");
	CLASSIFY(CURLE_OK, 200, "[{\"service_request_id\":null,"
	    "\"token\":\"t-2\"}]");
	is_str(ref, "t-2", "a null id falls back to the token");
	is_int(CLASSIFY(CURLE_OK, 200, "{\"service_request_id\":\"x\"}"),
	    DELIVER_OK, "not an array: delivered");
	ok(ref == NULL, "but no id kept");
	CLASSIFY(CURLE_OK, 200, "[{\"service_request_id\":\"a b\\n\"}]");
	ok(ref == NULL, "an id with spaces or control characters is not kept");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		char *resp = xasprintf("[{\"service_request_id\":\"%s\"}]",
		    big);
		CLASSIFY(CURLE_OK, 200, resp);
		free(resp);
	}
	ok(ref == NULL, "nor an id of 299 bytes");
	is_int(CLASSIFY(CURLE_OK, 200, "<html>"), DELIVER_OK,
	    "2xx that is not JSON: delivered");
	is_int(CLASSIFY(CURLE_OK, 400, "[{\"code\":400,\"description\":"
	    "\"bad\\u0007\"}]"), DELIVER_DEAD, "400: dead-letter");
	is_int(CLASSIFY(CURLE_OK, 503, ""), DELIVER_RETRY, "503: retry");
	is_int(CLASSIFY(CURLE_COULDNT_CONNECT, 0, ""), DELIVER_RETRY,
	    "connection refused: retry");
	free(ref);
}

static void
test_email(void)
{
	char *to[] = { "a@example.org" };
	struct cfg_desk desk;
	struct outbox_item it;
	struct curl_slist *hdrs = NULL, *l;
	curl_mime *mime = NULL;
	char *body = NULL, *err = NULL, *ref = NULL;
	CURL *h = curl_easy_init();
	int subject = 0, inj = 0, irt = 0, mid = 0;

	memset(&desk, 0, sizeof(desk));
	desk.id = "m";
	desk.type = DESK_EMAIL;
	desk.url = "smtp://127.0.0.1:1";
	desk.from = "bart@example.org";
	desk.to = to;
	desk.nto = 1;
	it = item(REPORT, 3);
	is_int(desk_email.prepare(&desk, &it, h, &hdrs, &body, &mime, &err),
	    0, "an update is mailed");
	for (l = hdrs; l; l = l->next) {
		if (strpbrk(l->data, "\r\n"))
			inj++;
		if (strncmp(l->data, "Subject: =?UTF-8?B?", 19) == 0)
			subject += encoded_words_ok(l->data + 9);
		if (strcmp(l->data, "In-Reply-To: <0123abcd-1111-4222-8333-"
		    "444455556666@bart>") == 0)
			irt++;
		if (strcmp(l->data, "Message-ID: <0123abcd-1111-4222-8333-"
		    "444455556666.v3@bart>") == 0)
			mid++;
	}
	ok(subject == 1, "Subject not ASCII: RFC 2047 encoded words of at "
	    "most 75 characters");
	ok(irt == 1 && mid == 1, "Message-ID .v3, In-Reply-To the first");
	ok(inj == 0, "no header holds a line break");
	curl_slist_free_all(hdrs);
	curl_mime_free(mime);
	free(body);
	hdrs = NULL;
	mime = NULL;
	body = NULL;
	it = item("{\"id\":\"x\",\"neighbourhood\":{\"name\":\"A\\r\\nBcc: "
	    "e@vil\"}}", 0);
	is_int(desk_email.prepare(&desk, &it, h, &hdrs, &body, &mime, &err),
	    0, "a report with a line break in a name");
	for (l = hdrs, inj = 0; l; l = l->next)
		if (strpbrk(l->data, "\r\n") || strncmp(l->data, "Bcc", 3) == 0)
			inj++;
	ok(inj == 0, "cannot add a header");
	curl_slist_free_all(hdrs);
	curl_mime_free(mime);
	free(body);
	curl_easy_cleanup(h);

	is_int(desk_email.classify(&desk, CURLE_OK, 250, "", 0, &ref),
	    DELIVER_OK, "250: delivered");
	is_int(desk_email.classify(&desk, CURLE_WEIRD_SERVER_REPLY, 550, "", 0,
	    &ref), DELIVER_DEAD, "550: dead-letter");
	is_int(desk_email.classify(&desk, CURLE_SEND_ERROR, 452, "", 0, &ref),
	    DELIVER_RETRY, "452: retry");
	is_int(desk_email.classify(&desk, CURLE_COULDNT_CONNECT, 0, "", 0,
	    &ref), DELIVER_RETRY, "no connection: retry");
	is_int(desk_email.classify(&desk, CURLE_USE_SSL_FAILED, 250, "", 0,
	    &ref), DELIVER_RETRY, "no STARTTLS: retry (never sent in clear)");
	ok(ref == NULL, "no remote ref for e-mail");
}

static void
test_room(void)
{
	char dir[] = "/tmp/bart-unit-desks-XXXXXX";
	struct cfg_desk desk;
	struct outbox_item it;
	struct store *st;
	struct chat_out **rows;
	char *path, *err = NULL, *sql;
	int n;

	ok(mkdtemp(dir) != NULL, "temp dir");
	path = xasprintf("%s/bart.db", dir);
	st = store_open(path, &err);
	ok(st != NULL, "store opens");
	if (st == NULL)
		return;
	memset(&desk, 0, sizeof(desk));
	desk.id = "meldkamer";
	desk.type = DESK_XMPP_ROOM;
	desk.account = "acct";
	desk.room = "desk@muc";
	it = item(REPORT, 0);
	is_int(desk_room.local(&desk, &it, st, &err), DELIVER_OK, "queued");
	is_int(desk_room.local(&desk, &it, st, &err), DELIVER_OK,
	    "queued again (after a crash)");
	n = store_chat_pending(st, NET_XMPP, "acct", &rows, 10);
	is_int(n, 1, "but in the room once");
	if (n == 1) {
		is_str(rows[0]->room, "desk@muc", "in the desk's room");
		is_str(rows[0]->txn_id, "desk-0123abcd-1111-4222-8333-"
		    "444455556666-meldkamer-v0", "txn id from report, desk, "
		    "version");
		ok(strncmp(rows[0]->body, "[normaal] openbare-ruimte in "
		    "Kiëvitsbuurt (ref 0123abcd)\n\"Lamp kapot", 67) == 0,
		    "formatted: urgency, category, neighbourhood, ref, text");
	}
	for (int i = 0; i < n; i++)
		chat_out_free(rows[i]);
	free(rows);
	it = item("nonsense", 0);
	is_int(desk_room.local(&desk, &it, st, &err), DELIVER_DEAD,
	    "a report that is not JSON is dead-lettered");
	free(err);
	store_close(st);
	sql = xasprintf("%s-wal", path);
	unlink(sql);
	free(sql);
	sql = xasprintf("%s-shm", path);
	unlink(sql);
	free(sql);
	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_text();
	test_open311();
	test_email();
	test_room();
	curl_global_cleanup();
	return done_testing();
}
