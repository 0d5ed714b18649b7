/* matrix.c: the Matrix connector (client-server API v1.x over libcurl,
 * JSON with jansson). One thread per account long-polls /sync and turns
 * room messages into struct message; a second thread of the account sends
 * the chat outbox as m.notice replies. (Two threads with one curl easy
 * handle each rather than one multi handle: a 30 s long-poll and the
 * sends never wait for each other, and each side stays straight-line
 * code. They share only the token and the rooms' ids, under mx->lock.)
 *
 * Decisions, so nobody has to guess:
 * - Residents' messages are m.room.message with msgtype m.text or m.emote.
 *   m.notice is what bots send (bart itself, other bridges); it is ignored
 *   so two bots can never acknowledge each other in a loop.
 * - Our own events are ignored.
 * - Edits (m.relates_to rel_type m.replace) are ignored: a report is built
 *   from what the resident first wrote and is not changed, withdrawn or
 *   sent again when they edit it; an edit never creates a report either
 *   (a typo fix must not produce a second report at a desk).
 * - Redactions are not requested; a redacted event has no body and is
 *   skipped. A report that was already delivered is not recalled.
 * - Replies: the quoted fallback ("> <@x> ...") is stripped from the body,
 *   so quoting an alarming message does not report it again.
 * - Messages from before bart joined a room (the history a join shows)
 *   and, on the very first start of an account, everything before that
 *   start are not reported.
 * - message.room is the room as configured (room id or alias), so the
 *   core finds the room's neighbourhood; the sender maps an alias back to
 *   the room id it resolved to.
 * - The sync token is the account's position, kept by the store under the
 *   room name "*sync*". Each sync batch is pushed as its events (position
 *   NULL) followed by one position-only message carrying next_batch, so
 *   the token is committed only after every event before it.
 * - Encrypted rooms cannot be read: a warning in the log each start and
 *   one notice in the room (txn id derived from the room id; the chat
 *   outbox refuses a second row with the same txn id).
 * - Environment knob for tests: BART_MATRIX_TIMELINE_LIMIT (default 50)
 *   sets the sync filter's timeline limit so a test can force a gap.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "connector.h"
#include "log.h"
#include "matrix_http.h"
#include "message.h"
#include "store.h"
#include "util.h"

#define MX_SYNC_ROOM	"*sync*"
#define MX_GAP_MAX	10000		/* events fetched to fill one gap */
#define MX_PAGE		100		/* events per /messages request */
#define MX_REQ_TIMEOUT	30		/* s for requests other than /sync */
#define MX_OUT_BATCH	64		/* outbox rows looked at a round */
#define MX_OUT_TRIES	20		/* 403/404 sends before giving up */
#define MX_STATE_MAX	(64 * 1024)

struct mx_room {
	const struct cfg_room	*cfg;
	char			*room_id;	/* resolved; NULL until known */
	int			 joined;
	int			 encrypted;	/* warned this run */
	int			 join_attempts;
	int64_t			 next_join;	/* mono ms */
};

struct mx {
	const struct connector_env	*env;
	const struct cfg_matrix		*acct;
	const char			*id;
	char				*base;	/* homeserver, no '/' at end */
	char				*state_path;
	struct store			*store;
	struct mx_http			 http;
	int				 timeline_limit;

	pthread_mutex_t			 lock;	/* token, user/device, rooms'
						 * room_id, gen */
	char				*token;
	char				*user_id;
	char				*device_id;
	unsigned			 gen;	/* bumped on each new token */

	char				*me;	/* sync thread's user_id */

	struct mx_room			*rooms;
	size_t				 nrooms;
	char				**ignored; /* invites logged once */
	size_t				 nignored;
};

struct mx_out_retry {
	int64_t		 id;
	int		 tries;
	int64_t		 next;		/* mono ms */
};

struct mx_sender {
	struct mx		*mx;
	struct mx_http		 http;
	struct store		*store;
	struct mx_out_retry	*retry;
	size_t			 nretry;
};

static int
stopping(struct mx *mx)
{
	return atomic_load(mx->env->stopping);
}

/* Sleeps ms, waking early on shutdown. */
static void
mx_sleep(struct mx *mx, int64_t ms)
{
	int64_t end = mono_ms() + ms;
	struct timespec ts;

	while (!stopping(mx)) {
		int64_t left = end - mono_ms();

		if (left <= 0)
			break;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		nanosleep(&ts, NULL);
	}
}

/* Copy of the current token and its generation; caller frees. */
static char *
mx_token(struct mx *mx, unsigned *gen)
{
	char *t;

	pthread_mutex_lock(&mx->lock);
	t = mx->token ? xstrdup(mx->token) : NULL;
	if (gen)
		*gen = mx->gen;
	pthread_mutex_unlock(&mx->lock);
	return t;
}

/* URL of path under the homeserver; caller frees. */
static char *
mx_url(struct mx *mx, const char *path)
{
	return xasprintf("%s/_matrix/client/v3%s", mx->base, path);
}

/* A peer's string made fit for one log line: control characters become
 * '?', at most 200 bytes. Caller frees. */
static char *
printable(const char *s)
{
	char *p = xstrndup(s ? s : "", 200);

	for (unsigned char *q = (unsigned char *)p; *q; q++)
		if (*q < 0x20 || *q == 0x7f)
			*q = '?';
	return p;
}

/* Logs a failed request: status and the server's errcode, never bodies
 * that might echo secrets, never the token. */
static void
mx_log_fail(struct mx *mx, const char *what, const struct mx_resp *r,
    json_t *root)
{
	const char *code = mx_jstr(root, "errcode");
	const char *msg = mx_jstr(root, "error");
	char *c, *m;

	if (r->status == 0 || r->err[0] != '\0') {
		log_warnx("matrix %s: %s: %s", mx->id, what, r->err[0] ?
		    r->err : "no response");
		return;
	}
	c = printable(code);
	m = printable(msg);
	log_warnx("matrix %s: %s: HTTP %ld%s%s%s%s", mx->id, what,
	    r->status, code ? " " : "", c, msg ? ": " : "", m);
	free(c);
	free(m);
}

/* ------------------------------------------------------------ state file */

static void
state_path_init(struct mx *mx)
{
	char *safe = xstrdup(mx->id);

	for (char *p = safe; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			*p = '_';
	mx->state_path = xasprintf("%s/matrix-%s.json",
	    mx->env->cfg->state_dir, safe);
	free(safe);
}

/* Reads the saved device of this account: NULL unless it is for the same
 * homeserver and user. Caller json_decref()s. */
static json_t *
state_load(struct mx *mx)
{
	char *data;
	size_t len;
	json_t *st;
	const char *hs, *user;

	if ((data = read_file(mx->state_path, MX_STATE_MAX, &len)) == NULL)
		return NULL;
	st = mx_json_parse(data, len);
	explicit_bzero(data, len);
	free(data);
	if (st == NULL) {
		log_warnx("matrix %s: %s is not valid JSON; ignoring it",
		    mx->id, mx->state_path);
		return NULL;
	}
	hs = mx_jstr(st, "homeserver");
	user = mx_jstr(st, "user");
	if (!hs || !user || strcmp(hs, mx->base) ||
	    strcmp(user, mx->acct->user)) {
		json_decref(st);
		return NULL;
	}
	return st;
}

/* Writes device id and token, mode 0600, atomically. */
static void
state_save(struct mx *mx)
{
	json_t *st;
	char *data = NULL, *tmp = NULL;
	int fd = -1;
	size_t len;

	st = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "homeserver", mx->base,
	    "user", mx->acct->user, "user_id", mx->user_id,
	    "device_id", mx->device_id, "access_token", mx->token);
	if (st == NULL || (data = json_dumps(st, JSON_COMPACT)) == NULL)
		goto fail;
	len = strlen(data);
	mkdir_p(mx->env->cfg->state_dir, 0700);
	tmp = xasprintf("%s.tmp", mx->state_path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		goto fail;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	if (rename(tmp, mx->state_path) == -1)
		goto fail;
	goto done;
fail:
	log_warn("matrix %s: cannot save %s", mx->id, mx->state_path);
	if (tmp)
		unlink(tmp);
done:
	if (fd != -1)
		close(fd);
	if (data) {
		explicit_bzero(data, strlen(data));
		free(data);
	}
	free(tmp);
	json_decref(st);
}

/* ----------------------------------------------------------------- login */

/* Asks who the token belongs to. 0 ok, -1 transient, -2 token refused. */
static int
mx_whoami(struct mx *mx, struct mx_http *http, const char *token)
{
	struct mx_resp r;
	json_t *root = NULL;
	char *url = mx_url(mx, "/account/whoami");
	const char *uid, *dev;
	int ret = -1;

	if (mx_request(http, "GET", url, token, NULL, MX_REQ_TIMEOUT,
	    &r) == -1) {
		mx_log_fail(mx, "whoami", &r, NULL);
		goto done;
	}
	root = mx_json_parse(r.body.data, r.body.len);
	if (r.status == 401 || r.status == 403) {
		mx_log_fail(mx, "access token refused", &r, root);
		ret = -2;
		goto done;
	}
	if (r.status != 200 || (uid = mx_jstr(root, "user_id")) == NULL) {
		mx_log_fail(mx, "whoami", &r, root);
		goto done;
	}
	if (strcasecmp(uid, mx->acct->user) != 0)
		log_warnx("matrix %s: token belongs to %s, not %s", mx->id,
		    uid, mx->acct->user);
	free(mx->user_id);
	mx->user_id = xstrdup(uid);
	if ((dev = mx_jstr(root, "device_id")) != NULL) {
		free(mx->device_id);
		mx->device_id = xstrdup(dev);
	}
	ret = 0;
done:
	json_decref(root);
	mx_resp_free(&r);
	free(url);
	return ret;
}

/* Password login keeping our device id. 0 ok, -1 transient, -2 refused,
 * or a 429 wait in *waitp. Called with mx->lock held. */
static int
mx_password_login(struct mx *mx, struct mx_http *http, int64_t *waitp)
{
	struct mx_resp r;
	json_t *req, *root = NULL;
	char *body = NULL, *url = mx_url(mx, "/login");
	const char *tok, *uid, *dev;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	if (mx->acct->password == NULL) {
		log_warnx("matrix %s: no password to log in with", mx->id);
		free(url);
		return -2;
	}
	req = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s}",
	    "type", "m.login.password",
	    "identifier", "type", "m.id.user", "user", mx->acct->user,
	    "password", mx->acct->password,
	    "initial_device_display_name", "bart");
	if (mx->device_id)
		json_object_set_new(req, "device_id",
		    json_string(mx->device_id));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (mx_request(http, "POST", url, NULL, body, MX_REQ_TIMEOUT,
	    &r) == -1) {
		mx_log_fail(mx, "login", &r, NULL);
		goto done;
	}
	root = mx_json_parse(r.body.data, r.body.len);
	if (r.status == 429) {
		*waitp = mx_retry_after(&r, root);
		goto done;
	}
	if (r.status == 403 || r.status == 401 || r.status == 400) {
		mx_log_fail(mx, "login refused", &r, root);
		ret = -2;
		goto done;
	}
	if (r.status != 200 || (tok = mx_jstr(root, "access_token")) == NULL ||
	    (uid = mx_jstr(root, "user_id")) == NULL) {
		mx_log_fail(mx, "login", &r, root);
		goto done;
	}
	if (mx->token)
		explicit_bzero(mx->token, strlen(mx->token));
	free(mx->token);
	mx->token = xstrdup(tok);
	free(mx->user_id);
	mx->user_id = xstrdup(uid);
	if ((dev = mx_jstr(root, "device_id")) != NULL) {
		free(mx->device_id);
		mx->device_id = xstrdup(dev);
	}
	mx->gen++;
	log_info("matrix %s: logged in as %s, device %s", mx->id,
	    mx->user_id, mx->device_id ? mx->device_id : "?");
	state_save(mx);
	ret = 0;
done:
	json_decref(root);
	mx_resp_free(&r);
	if (body) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	free(url);
	return ret;
}

/* Gets a working token: the configured one, the saved one, or a password
 * login (keeping the saved device). When stale_gen is given and a newer
 * token exists already, returns at once. 0 ok, -1 try later. */
static int
mx_login(struct mx *mx, struct mx_http *http, int have_stale, unsigned
    stale_gen, int64_t *waitp)
{
	json_t *st;
	int rc, ret = -1;

	*waitp = 0;
	pthread_mutex_lock(&mx->lock);
	if (have_stale && mx->gen != stale_gen) {
		ret = 0;
		goto done;
	}
	if (mx->acct->access_token) {
		if (have_stale) {
			log_warnx("matrix %s: the configured access token "
			    "was refused", mx->id);
			*waitp = 60000;
			goto done;
		}
		free(mx->token);
		mx->token = xstrdup(mx->acct->access_token);
		if ((rc = mx_whoami(mx, http, mx->token)) == 0) {
			mx->gen++;
			log_info("matrix %s: using the configured access token"
			    " (%s, device %s)", mx->id, mx->user_id,
			    mx->device_id ? mx->device_id : "?");
			ret = 0;
		} else if (rc == -2)
			*waitp = 60000;
		goto done;
	}
	if (!have_stale && mx->token == NULL &&
	    (st = state_load(mx)) != NULL) {
		const char *tok = mx_jstr(st, "access_token");
		const char *dev = mx_jstr(st, "device_id");

		if (dev) {
			free(mx->device_id);
			mx->device_id = xstrdup(dev);
		}
		if (tok) {
			rc = mx_whoami(mx, http, tok);
			if (rc == 0) {
				mx->token = xstrdup(tok);
				mx->gen++;
				log_info("matrix %s: resumed device %s as %s",
				    mx->id, mx->device_id ? mx->device_id :
				    "?", mx->user_id);
				json_decref(st);
				ret = 0;
				goto done;
			}
			if (rc == -1) {
				json_decref(st);
				goto done;
			}
		}
		json_decref(st);
	}
	rc = mx_password_login(mx, http, waitp);
	if (rc == -2 && *waitp == 0)
		*waitp = 60000;
	ret = rc == 0 ? 0 : -1;
done:
	pthread_mutex_unlock(&mx->lock);
	return ret;
}

/* ----------------------------------------------------------------- rooms */

static struct mx_room *
room_by_id(struct mx *mx, const char *room_id)
{
	for (size_t i = 0; i < mx->nrooms; i++) {
		struct mx_room *r = &mx->rooms[i];

		if ((r->room_id && strcmp(r->room_id, room_id) == 0) ||
		    strcmp(r->cfg->id, room_id) == 0)
			return r;
	}
	return NULL;
}

static struct mx_room *
room_by_alias(struct mx *mx, const char *alias)
{
	for (size_t i = 0; i < mx->nrooms; i++)
		if (mx->rooms[i].cfg->id[0] == '#' &&
		    strcasecmp(mx->rooms[i].cfg->id, alias) == 0)
			return &mx->rooms[i];
	return NULL;
}

/* Room id to send to for a configured room string; caller frees. */
static char *
room_target(struct mx *mx, const char *room)
{
	char *id = NULL;

	if (room[0] == '!')
		return xstrdup(room);
	pthread_mutex_lock(&mx->lock);
	for (size_t i = 0; i < mx->nrooms; i++)
		if (strcmp(mx->rooms[i].cfg->id, room) == 0 &&
		    mx->rooms[i].room_id)
			id = xstrdup(mx->rooms[i].room_id);
	pthread_mutex_unlock(&mx->lock);
	return id;
}

/* Txn id of the one "cannot read this room" notice of a room; caller
 * frees. */
static char *
e2ee_txn(const char *room_id)
{
	char h[65];

	hmac_sha256_hex("bart-e2ee", 9, room_id, strlen(room_id), h);
	h[32] = '\0';
	return xasprintf("bart-e2ee-%s", h);
}

/* Says loudly that a room is encrypted: a log line each run, one notice
 * in the room ever. */
static void
room_encrypted(struct mx *mx, struct mx_room *r)
{
	char *txn;

	if (r->encrypted)
		return;
	r->encrypted = 1;
	log_warnx("matrix %s: room %s is end-to-end encrypted: bart cannot "
	    "read it, and nothing said there reaches a desk", mx->id,
	    r->cfg->id);
	txn = e2ee_txn(r->room_id ? r->room_id : r->cfg->id);
	if (store_chat_add(mx->store, NET_MATRIX, mx->id, r->cfg->id,
	    "bart kan deze kamer niet lezen: ze is end-to-end versleuteld. "
	    "Meldingen uit deze kamer worden niet doorgestuurd; bel bij spoed "
	    "112, anders 0900-8844.", NULL, txn) == -1)
		log_warnx("matrix %s: cannot queue the encryption notice for "
		    "%s", mx->id, r->cfg->id);
	free(txn);
}

/* Asks whether a room has m.room.encryption state. */
static void
room_check_encryption(struct mx *mx, struct mx_room *r)
{
	struct mx_resp resp;
	char *tok, *esc, *path, *url;

	if (r->room_id == NULL || (tok = mx_token(mx, NULL)) == NULL)
		return;
	esc = mx_escape(r->room_id);
	path = xasprintf("/rooms/%s/state/m.room.encryption/", esc);
	url = mx_url(mx, path);
	if (mx_request(&mx->http, "GET", url, tok, NULL, MX_REQ_TIMEOUT,
	    &resp) == 0 && resp.status == 200)
		room_encrypted(mx, r);
	mx_resp_free(&resp);
	free(url);
	free(path);
	free(esc);
	free(tok);
}

/* Joins a configured room (by id or alias; also accepts an invite). */
static void
room_join(struct mx *mx, struct mx_room *r, const char *via_id)
{
	struct mx_resp resp;
	json_t *root = NULL;
	char *tok, *esc, *path, *url;
	const char *rid;
	int64_t wait;

	if ((tok = mx_token(mx, NULL)) == NULL)
		return;
	esc = mx_escape(via_id ? via_id : r->cfg->id);
	path = xasprintf("/join/%s", esc);
	url = mx_url(mx, path);
	if (mx_request(&mx->http, "POST", url, tok, "{}", MX_REQ_TIMEOUT,
	    &resp) == -1) {
		mx_log_fail(mx, "join", &resp, NULL);
		wait = backoff_ms(r->join_attempts++, 2000, 300000);
		goto retry;
	}
	root = mx_json_parse(resp.body.data, resp.body.len);
	if (resp.status == 200 && (rid = mx_jstr(root, "room_id")) != NULL) {
		pthread_mutex_lock(&mx->lock);
		free(r->room_id);
		r->room_id = xstrdup(rid);
		pthread_mutex_unlock(&mx->lock);
		if (!r->joined) {
			char *p = printable(rid);

			log_info("matrix %s: joined %s%s%s", mx->id,
			    r->cfg->id, strcmp(rid, r->cfg->id) ? " as " : "",
			    strcmp(rid, r->cfg->id) ? p : "");
			free(p);
		}
		r->joined = 1;
		r->join_attempts = 0;
		room_check_encryption(mx, r);
		goto done;
	}
	if (resp.status == 429)
		wait = mx_retry_after(&resp, root);
	else {
		char *what = xasprintf("cannot join %s yet (waiting for an "
		    "invite)", r->cfg->id);
		mx_log_fail(mx, what, &resp, root);
		free(what);
		wait = backoff_ms(r->join_attempts++, 5000, 300000);
	}
retry:
	r->next_join = mono_ms() + wait;
done:
	json_decref(root);
	mx_resp_free(&resp);
	free(url);
	free(path);
	free(esc);
	free(tok);
}

static void
rooms_join_due(struct mx *mx)
{
	int64_t now = mono_ms();

	for (size_t i = 0; i < mx->nrooms && !stopping(mx); i++)
		if (!mx->rooms[i].joined && mx->rooms[i].next_join <= now)
			room_join(mx, &mx->rooms[i], NULL);
}

/* Room id an alias points to, from the room directory; NULL if it cannot
 * be resolved. Caller frees. */
static char *
alias_resolve(struct mx *mx, const char *alias)
{
	struct mx_resp resp;
	json_t *root = NULL;
	char *tok, *esc, *path, *url, *id = NULL;
	const char *rid;

	if ((tok = mx_token(mx, NULL)) == NULL)
		return NULL;
	esc = mx_escape(alias);
	path = xasprintf("/directory/room/%s", esc);
	url = mx_url(mx, path);
	if (mx_request(&mx->http, "GET", url, tok, NULL, MX_REQ_TIMEOUT,
	    &resp) == 0 && resp.status == 200 &&
	    (root = mx_json_parse(resp.body.data, resp.body.len)) != NULL &&
	    (rid = mx_jstr(root, "room_id")) != NULL)
		id = xstrdup(rid);
	json_decref(root);
	mx_resp_free(&resp);
	free(url);
	free(path);
	free(esc);
	free(tok);
	return id;
}

/* An invite: accepted only for a configured room, by id, or by an alias
 * the invite's stripped state names and the room directory confirms (the
 * stripped state comes from the inviter and proves nothing). */
static void
handle_invite(struct mx *mx, const char *room_id, json_t *inv)
{
	struct mx_room *r = room_by_id(mx, room_id);
	json_t *evs = mx_jarr(mx_jobj(inv, "invite_state"), "events"), *ev;
	size_t i;
	char *p;

	if (r == NULL && evs) {
		json_array_foreach(evs, i, ev) {
			const char *type = mx_jstr(ev, "type");
			json_t *c = mx_jobj(ev, "content");
			const char *alias = mx_jstr(c, "alias");
			char *real;

			if (!type || strcmp(type, "m.room.canonical_alias") ||
			    !alias || (r = room_by_alias(mx, alias)) == NULL)
				continue;
			real = alias_resolve(mx, alias);
			if (real == NULL || strcmp(real, room_id) != 0) {
				p = printable(room_id);
				log_warnx("matrix %s: an invite to %s claims "
				    "the alias %s, which points elsewhere; "
				    "ignored", mx->id, p, r->cfg->id);
				free(p);
				r = NULL;
			}
			free(real);
			break;
		}
	}
	if (r == NULL) {
		for (i = 0; i < mx->nignored; i++)
			if (strcmp(mx->ignored[i], room_id) == 0)
				return;
		if (mx->nignored < 1000) {
			mx->ignored = xrealloc(mx->ignored,
			    (mx->nignored + 1) * sizeof(*mx->ignored));
			mx->ignored[mx->nignored++] = xstrdup(room_id);
		}
		p = printable(room_id);
		log_info("matrix %s: ignoring an invite to %s: not a "
		    "configured room", mx->id, p);
		free(p);
		return;
	}
	if (r->joined && r->room_id && strcmp(r->room_id, room_id) == 0)
		return;
	log_info("matrix %s: invited to %s, joining", mx->id, r->cfg->id);
	r->joined = 0;
	room_join(mx, r, room_id);
}

/* -------------------------------------------------------------- messages */

/* Strips the "> " quote a reply carries in its body (reply fallback). */
static const char *
strip_reply_fallback(const char *s, size_t *lenp)
{
	const char *p = s, *end = s + *lenp, *nl;

	if (*lenp < 2 || s[0] != '>')
		return s;
	while (p < end && *p == '>') {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			return s;	/* all quote: keep it as it is */
		p = nl + 1;
	}
	if (p < end && *p == '\n')
		p++;
	else
		return s;
	*lenp = end - p;
	return p;
}

/* Builds the message for a room event, or NULL when it is not a
 * resident's text message. Caller frees with message_free. */
static struct message *
event_message(struct mx *mx, struct mx_room *r, json_t *ev, int history)
{
	json_t *content, *rel, *body;
	const char *type, *evid, *sender, *msgtype, *reltype, *reply = NULL;
	const char *text;
	size_t len, outlen;
	int64_t ts = 0;
	struct message *m;

	if ((type = mx_jstr(ev, "type")) == NULL)
		return NULL;
	if (strcmp(type, "m.room.encrypted") == 0 ||
	    strcmp(type, "m.room.encryption") == 0) {
		room_encrypted(mx, r);
		return NULL;
	}
	if (strcmp(type, "m.room.message") != 0)
		return NULL;
	if ((evid = mx_jstr(ev, "event_id")) == NULL ||
	    (sender = mx_jstr(ev, "sender")) == NULL ||
	    (content = mx_jobj(ev, "content")) == NULL)
		return NULL;
	if (strlen(evid) >= MSG_ID_MAX || strlen(sender) >= MSG_ID_MAX) {
		log_warnx("matrix %s: skipping an event with an overlong id "
		    "in %s", mx->id, r->cfg->id);
		return NULL;
	}
	if (mx->me && strcmp(sender, mx->me) == 0)
		return NULL;
	if ((msgtype = mx_jstr(content, "msgtype")) == NULL ||
	    (strcmp(msgtype, "m.text") && strcmp(msgtype, "m.emote")))
		return NULL;
	if ((body = json_object_get(content, "body")) == NULL ||
	    !json_is_string(body))
		return NULL;
	if ((rel = mx_jobj(content, "m.relates_to")) != NULL) {
		if ((reltype = mx_jstr(rel, "rel_type")) &&
		    strcmp(reltype, "m.replace") == 0)
			return NULL;	/* an edit: see the top of the file */
		reply = mx_jstr(mx_jobj(rel, "m.in_reply_to"), "event_id");
		if (reply && strlen(reply) >= MSG_ID_MAX)
			reply = NULL;
	}
	mx_jint(ev, "origin_server_ts", &ts);
	if (ts < 0)
		ts = 0;

	text = json_string_value(body);
	len = json_string_length(body);
	if (reply)
		text = strip_reply_fallback(text, &len);

	m = xcalloc(1, sizeof(*m));
	m->network = NET_MATRIX;
	m->account = xstrdup(mx->id);
	m->room = xstrdup(r->cfg->id);
	m->msgid = xstrdup(evid);
	m->sender = xstrdup(sender);
	m->reply_to = reply ? xstrdup(reply) : NULL;
	m->ts = ts;
	m->history = history;
	m->text = utf8_sanitize(text, len, &outlen);
	if (outlen > MSG_TEXT_MAX) {
		outlen = MSG_TEXT_MAX;
		while (outlen > 0 &&
		    ((unsigned char)m->text[outlen] & 0xc0) == 0x80)
			outlen--;
		m->text[outlen] = '\0';
	}
	m->textlen = outlen;
	return m;
}

/* Hands m to the core. -1 once the inbox is closed (m freed). */
static int
push(struct mx *mx, struct message *m)
{
	if (queue_push(mx->env->inbox, m) == -1) {
		message_free(m);
		return -1;
	}
	return 0;
}

static int
push_position(struct mx *mx, const char *token)
{
	struct message *m = xcalloc(1, sizeof(*m));

	m->network = NET_MATRIX;
	m->account = xstrdup(mx->id);
	m->room = xstrdup(MX_SYNC_ROOM);
	m->position = xstrdup(token);
	return push(mx, m);
}

/* Fetches the events between the timeline's prev_batch and the token of
 * the previous sync (a gap the server left out: limited) and pushes them
 * oldest first. 0 ok, -1 failed (the caller retries the whole sync). */
static int
fill_gap(struct mx *mx, struct mx_room *r, const char *room_id,
    const char *from, const char *to)
{
	json_t *all = json_array(), *root = NULL, *chunk, *ev;
	char *tok = NULL, *esc = mx_escape(room_id), *efrom = NULL, *eto;
	char *cur = xstrdup(from), *path = NULL, *url = NULL;
	static const char filter[] = "%7B%22types%22%3A%5B%22m.room.message"
	    "%22%2C%22m.room.encrypted%22%5D%7D";
	struct mx_resp resp;
	int ret = -1, attempts = 0;
	size_t i, pushed = 0;
	const char *end;

	memset(&resp, 0, sizeof(resp));
	eto = mx_escape(to);
	while (json_array_size(all) < MX_GAP_MAX && !stopping(mx)) {
		free(tok);
		tok = mx_token(mx, NULL);
		free(efrom);
		efrom = mx_escape(cur);
		free(path);
		path = xasprintf("/rooms/%s/messages?dir=b&limit=%d&from=%s&"
		    "to=%s&filter=%s", esc, MX_PAGE, efrom, eto, filter);
		free(url);
		url = mx_url(mx, path);
		mx_resp_free(&resp);
		json_decref(root);
		root = NULL;
		if (mx_request(&mx->http, "GET", url, tok, NULL,
		    MX_REQ_TIMEOUT, &resp) == -1) {
			mx_log_fail(mx, "filling a gap", &resp, NULL);
			goto done;
		}
		root = mx_json_parse(resp.body.data, resp.body.len);
		if (resp.status == 429 && attempts++ < 10) {
			mx_sleep(mx, mx_retry_after(&resp, root));
			continue;
		}
		if (resp.status != 200 ||
		    (chunk = mx_jarr(root, "chunk")) == NULL) {
			mx_log_fail(mx, "filling a gap", &resp, root);
			goto done;
		}
		json_array_extend(all, chunk);
		end = mx_jstr(root, "end");
		if (json_array_size(chunk) == 0 || end == NULL ||
		    strcmp(end, cur) == 0)
			break;
		free(cur);
		cur = xstrdup(end);
	}
	if (json_array_size(all) >= MX_GAP_MAX)
		log_warnx("matrix %s: gap in %s larger than %d events; older "
		    "ones are skipped", mx->id, r->cfg->id, MX_GAP_MAX);
	/* dir=b gives newest first */
	for (i = json_array_size(all); i > 0; i--) {
		struct message *m;

		ev = json_array_get(all, i - 1);
		if ((m = event_message(mx, r, ev, 1)) == NULL)
			continue;
		if (push(mx, m) == -1)
			goto done;
		pushed++;
	}
	log_info("matrix %s: filled a gap of %zu events in %s (%zu "
	    "messages)", mx->id, json_array_size(all), r->cfg->id, pushed);
	ret = 0;
done:
	mx_resp_free(&resp);
	json_decref(root);
	json_decref(all);
	free(tok);
	free(esc);
	free(efrom);
	free(eto);
	free(cur);
	free(path);
	free(url);
	return ret;
}

/* Index just past our own join in a timeline (events before it are the
 * history a join shows), or 0. */
static size_t
after_own_join(struct mx *mx, json_t *events)
{
	size_t i, start = 0;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		const char *type = mx_jstr(ev, "type");
		const char *sk = mx_jstr(ev, "state_key");
		const char *ms = mx_jstr(mx_jobj(ev, "content"), "membership");
		const char *prev = mx_jstr(mx_jobj(mx_jobj(ev, "unsigned"),
		    "prev_content"), "membership");

		if (type && sk && ms && mx->me &&
		    strcmp(type, "m.room.member") == 0 &&
		    strcmp(sk, mx->me) == 0 &&
		    strcmp(ms, "join") == 0 &&
		    (prev == NULL || strcmp(prev, "join") != 0))
			start = i + 1;
	}
	return start;
}

/* One joined room of a sync response. -1: stop or retry the sync. */
static int
handle_joined(struct mx *mx, const char *room_id, json_t *jr,
    const char *since, int initial)
{
	struct mx_room *r = room_by_id(mx, room_id);
	json_t *tl, *evs, *ev, *state;
	const char *prev_batch;
	size_t i, start;
	int limited;

	if (r == NULL) {
		char *p = printable(room_id);

		log_debug("matrix %s: events of unconfigured room %s ignored",
		    mx->id, p);
		free(p);
		return 0;
	}
	if (r->room_id == NULL) {
		pthread_mutex_lock(&mx->lock);
		r->room_id = xstrdup(room_id);
		pthread_mutex_unlock(&mx->lock);
	}
	r->joined = 1;
	if ((state = mx_jarr(mx_jobj(jr, "state"), "events")) != NULL)
		json_array_foreach(state, i, ev) {
			const char *type = mx_jstr(ev, "type");

			if (type && strcmp(type, "m.room.encryption") == 0)
				room_encrypted(mx, r);
		}
	tl = mx_jobj(jr, "timeline");
	if ((evs = mx_jarr(tl, "events")) == NULL)
		return 0;
	limited = json_is_true(json_object_get(tl, "limited"));
	prev_batch = mx_jstr(tl, "prev_batch");
	start = after_own_join(mx, evs);
	if (initial) {
		json_array_foreach(evs, i, ev) {
			const char *type = mx_jstr(ev, "type");

			if (type && (strcmp(type, "m.room.encryption") == 0 ||
			    strcmp(type, "m.room.encrypted") == 0))
				room_encrypted(mx, r);
		}
		return 0;
	}
	if (limited && start == 0 && since && prev_batch) {
		log_info("matrix %s: %s: sync timeline limited, fetching the "
		    "gap", mx->id, r->cfg->id);
		if (fill_gap(mx, r, room_id, prev_batch, since) == -1)
			return -1;
	}
	for (i = start; i < json_array_size(evs); i++) {
		struct message *m;

		if ((m = event_message(mx, r, json_array_get(evs, i), 0)))
			if (push(mx, m) == -1)
				return -1;
	}
	return 0;
}

/* A configured room we are no longer in (kicked, left, banned). */
static void
handle_left(struct mx *mx, const char *room_id)
{
	struct mx_room *r = room_by_id(mx, room_id);

	if (r == NULL || !r->joined)
		return;
	log_warnx("matrix %s: no longer in %s; will try to join again",
	    mx->id, r->cfg->id);
	r->joined = 0;
	r->next_join = mono_ms() + 30000;
}

/* Processes one /sync response. Returns 0 and sets *nextp (caller frees)
 * or -1 when the sync must be retried from the same token. */
static int
handle_sync(struct mx *mx, json_t *root, const char *since, int initial,
    char **nextp)
{
	json_t *rooms, *sect, *jr;
	const char *next, *room_id;
	void *iter;

	*nextp = NULL;
	/* The sender thread may log in again and replace user_id. */
	pthread_mutex_lock(&mx->lock);
	free(mx->me);
	mx->me = mx->user_id ? xstrdup(mx->user_id) : NULL;
	pthread_mutex_unlock(&mx->lock);
	if ((next = mx_jstr(root, "next_batch")) == NULL) {
		log_warnx("matrix %s: sync response without next_batch",
		    mx->id);
		return -1;
	}
	if (strlen(next) > 4096) {
		log_warnx("matrix %s: overlong sync token", mx->id);
		return -1;
	}
	rooms = mx_jobj(root, "rooms");
	if ((sect = mx_jobj(rooms, "invite")) != NULL)
		json_object_foreach_safe(sect, iter, room_id, jr)
			if (json_is_object(jr))
				handle_invite(mx, room_id, jr);
	if ((sect = mx_jobj(rooms, "join")) != NULL) {
		const char *k;
		json_t *v;

		json_object_foreach(sect, k, v) {
			if (!json_is_object(v))
				continue;
			if (handle_joined(mx, k, v, since, initial) == -1)
				return -1;
		}
	}
	if ((sect = mx_jobj(rooms, "leave")) != NULL) {
		const char *k;
		json_t *v;

		json_object_foreach(sect, k, v)
			handle_left(mx, k);
	}
	*nextp = xstrdup(next);
	return 0;
}

/* The sync filter, URL-encoded; caller frees. */
static char *
sync_filter(struct mx *mx, int limit)
{
	json_t *f;
	char *s, *e;

	f = json_pack("{s:{s:[]}, s:{s:[]}, s:{s:{s:i, s:[s,s,s,s]}, "
	    "s:{s:[s], s:b}, s:{s:[]}, s:{s:[]}}}",
	    "presence", "types",
	    "account_data", "types",
	    "room",
	    "timeline", "limit", limit, "types", "m.room.message",
	    "m.room.encrypted", "m.room.encryption", "m.room.member",
	    "state", "types", "m.room.encryption", "lazy_load_members", 1,
	    "ephemeral", "types",
	    "account_data", "types");
	s = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	e = mx_escape(s);
	free(s);
	(void)mx;
	return e;
}

/* --------------------------------------------------------------- sending */

static struct mx_out_retry *
out_retry(struct mx_sender *s, int64_t id)
{
	for (size_t i = 0; i < s->nretry; i++)
		if (s->retry[i].id == id)
			return &s->retry[i];
	s->retry = xrealloc(s->retry, (s->nretry + 1) * sizeof(*s->retry));
	s->retry[s->nretry] = (struct mx_out_retry){ id, 0, 0 };
	return &s->retry[s->nretry++];
}

static void
out_retry_drop(struct mx_sender *s, int64_t id)
{
	for (size_t i = 0; i < s->nretry; i++)
		if (s->retry[i].id == id) {
			s->retry[i] = s->retry[--s->nretry];
			return;
		}
}

/* Sends one outbox row. 0 sent (or dropped for good), 1 try this row
 * later, -1 stop sending for *waitp ms (rate limit, server down). */
static int
send_one(struct mx_sender *s, const struct chat_out *c, int64_t *waitp)
{
	struct mx *mx = s->mx;
	struct mx_out_retry *rt;
	struct mx_resp resp;
	json_t *content, *root = NULL;
	char *body = NULL, *tok = NULL, *url = NULL, *path = NULL;
	char *rid = NULL, *erid = NULL, *etxn = NULL;
	unsigned gen;
	int ret = 1;

	memset(&resp, 0, sizeof(resp));
	rt = out_retry(s, c->id);
	if (rt->next > mono_ms())
		return 1;
	if ((rid = room_target(mx, c->room)) == NULL) {
		/* an alias we could not join (yet) */
		if (rt->tries >= MX_OUT_TRIES) {
			log_warnx("matrix %s: cannot send to %s (not joined); "
			    "notice dropped", mx->id, c->room);
			store_chat_sent(s->store, c->id);
			out_retry_drop(s, c->id);
			return 0;
		}
		rt->next = mono_ms() + backoff_ms(rt->tries++, 5000, 300000);
		return 1;
	}
	content = json_pack("{s:s, s:s}", "msgtype", "m.notice", "body",
	    c->body);
	if (content == NULL) {
		log_warnx("matrix %s: outbox row %lld is not valid UTF-8; "
		    "dropped", mx->id, (long long)c->id);
		store_chat_sent(s->store, c->id);
		free(rid);
		return 0;
	}
	if (c->reply_to && c->reply_to[0] == '$')
		json_object_set_new(content, "m.relates_to", json_pack(
		    "{s:{s:s}}", "m.in_reply_to", "event_id", c->reply_to));
	body = json_dumps(content, JSON_COMPACT);
	json_decref(content);
	erid = mx_escape(rid);
	etxn = mx_escape(c->txn_id);
	path = xasprintf("/rooms/%s/send/m.room.message/%s", erid, etxn);
	url = mx_url(mx, path);
	tok = mx_token(mx, &gen);

	if (mx_request(&s->http, "PUT", url, tok, body, MX_REQ_TIMEOUT,
	    &resp) == -1) {
		mx_log_fail(mx, "sending a notice", &resp, NULL);
		*waitp = backoff_ms(rt->tries++, 1000, 60000);
		ret = -1;
		goto done;
	}
	root = mx_json_parse(resp.body.data, resp.body.len);
	if (resp.status == 200 && mx_jstr(root, "event_id")) {
		if (store_chat_sent(s->store, c->id) == -1) {
			*waitp = 1000;
			ret = -1;
			goto done;
		}
		log_debug("matrix %s: sent notice %s to %s", mx->id,
		    c->txn_id, c->room);
		out_retry_drop(s, c->id);
		ret = 0;
	} else if (resp.status == 429) {
		*waitp = mx_retry_after(&resp, root);
		log_info("matrix %s: rate limited, waiting %lld ms", mx->id,
		    (long long)*waitp);
		ret = -1;
	} else if (resp.status == 401) {
		int64_t w = 0;

		mx_log_fail(mx, "sending a notice", &resp, root);
		if (mx_login(mx, &s->http, 1, gen, &w) == -1) {
			*waitp = w ? w : 5000;
			ret = -1;
		}
	} else if (resp.status >= 500 || resp.status == 200) {
		/* 200 without event_id: a broken proxy; retry */
		mx_log_fail(mx, "sending a notice", &resp, root);
		*waitp = backoff_ms(rt->tries++, 1000, 60000);
		ret = -1;
	} else if ((resp.status == 403 || resp.status == 404) &&
	    rt->tries < MX_OUT_TRIES) {
		/* maybe not joined yet: try this row again later */
		mx_log_fail(mx, "sending a notice", &resp, root);
		rt->next = mono_ms() + backoff_ms(rt->tries++, 2000, 300000);
	} else {
		mx_log_fail(mx, "notice refused, dropping it", &resp, root);
		store_chat_sent(s->store, c->id);
		out_retry_drop(s, c->id);
		ret = 0;
	}
done:
	json_decref(root);
	mx_resp_free(&resp);
	free(body);
	if (tok) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
	}
	free(url);
	free(path);
	free(rid);
	free(erid);
	free(etxn);
	return ret;
}

/* Thread body: sends the account's chat outbox, oldest first. */
static void *
sender_thread(void *arg)
{
	struct mx_sender *s = arg;
	struct mx *mx = s->mx;
	struct chat_out **rows;
	int64_t wait;
	int n, done, blocked;

	while (!stopping(mx)) {
		n = store_chat_pending(s->store, NET_MATRIX, mx->id, &rows,
		    MX_OUT_BATCH);
		wait = 250;
		done = blocked = 0;
		for (int i = 0; i < n; i++) {
			int64_t w = 0;

			if (!blocked && !stopping(mx)) {
				switch (send_one(s, rows[i], &w)) {
				case 0:
					done++;
					break;
				case -1:
					blocked = 1;
					wait = w;
					break;
				}
			}
			chat_out_free(rows[i]);
		}
		if (n > 0)
			free(rows);
		if (n == MX_OUT_BATCH && done > 0 && !blocked)
			wait = 0;	/* more may be waiting */
		mx_sleep(mx, wait);
	}
	return NULL;
}

/* ---------------------------------------------------------------- thread */

static void
mx_free(struct mx *mx)
{
	mx_http_free(&mx->http);
	if (mx->store)
		store_close(mx->store);
	for (size_t i = 0; i < mx->nrooms; i++)
		free(mx->rooms[i].room_id);
	free(mx->rooms);
	for (size_t i = 0; i < mx->nignored; i++)
		free(mx->ignored[i]);
	free(mx->ignored);
	if (mx->token)
		explicit_bzero(mx->token, strlen(mx->token));
	free(mx->token);
	free(mx->user_id);
	free(mx->me);
	free(mx->device_id);
	free(mx->base);
	free(mx->state_path);
	pthread_mutex_destroy(&mx->lock);
	free(mx);
}

/* The sync loop: returns when bartd stops. */
static void
sync_loop(struct mx *mx)
{
	struct mx_resp r;
	json_t *root;
	char *since, *filter, *filter0, *url, *tok, *next;
	int attempt = 0, initial, insync = 0, bad_token = 0;
	unsigned gen;
	int64_t wait;

	since = store_position_get(mx->store, NET_MATRIX, mx->id,
	    MX_SYNC_ROOM);
	if (since)
		log_info("matrix %s: resuming from the committed sync token",
		    mx->id);
	else
		log_info("matrix %s: first start: skipping the rooms' "
		    "history", mx->id);
	filter = sync_filter(mx, mx->timeline_limit);
	filter0 = sync_filter(mx, 1);

	while (!stopping(mx)) {
		rooms_join_due(mx);
		initial = since == NULL;
		if (initial)
			url = xasprintf("%s/_matrix/client/v3/sync?timeout=0&"
			    "filter=%s&set_presence=offline", mx->base,
			    filter0);
		else {
			char *es = mx_escape(since);

			url = xasprintf("%s/_matrix/client/v3/sync?timeout=%d"
			    "&filter=%s&set_presence=offline&since=%s",
			    mx->base, mx->acct->sync_timeout * 1000, filter,
			    es);
			free(es);
		}
		tok = mx_token(mx, &gen);
		root = NULL;
		next = NULL;
		wait = 0;
		if (mx_request(&mx->http, "GET", url, tok, NULL,
		    mx->acct->sync_timeout + 30, &r) == -1) {
			if (!stopping(mx))
				mx_log_fail(mx, "sync", &r, NULL);
			wait = backoff_ms(attempt++, 1000, 60000);
			goto next;
		}
		root = mx_json_parse(r.body.data, r.body.len);
		if (r.status == 429) {
			wait = mx_retry_after(&r, root);
			goto next;
		}
		if (r.status == 401) {
			mx_log_fail(mx, "sync", &r, root);
			if (mx_login(mx, &mx->http, 1, gen, &wait) == -1 &&
			    wait == 0)
				wait = backoff_ms(attempt++, 1000, 60000);
			goto next;
		}
		if (r.status == 400 && since != NULL && ++bad_token >= 3) {
			/* Synapse says "Invalid stream token": the token
			 * will never work again, and staying deaf helps no
			 * one. Start over from now, loudly. */
			mx_log_fail(mx, "sync token refused", &r, root);
			log_warnx("matrix %s: starting over from now; messages "
			    "since the last committed token are not read",
			    mx->id);
			free(since);
			since = NULL;
			bad_token = 0;
			goto next;
		}
		if (r.status != 200 || root == NULL) {
			mx_log_fail(mx, root ? "sync" : "sync (response is not"
			    " a JSON object)", &r, root);
			wait = backoff_ms(attempt++, 1000, 60000);
			goto next;
		}
		if (handle_sync(mx, root, since, initial, &next) == -1) {
			wait = backoff_ms(attempt++, 1000, 60000);
			goto next;
		}
		attempt = 0;
		bad_token = 0;
		if (since == NULL || strcmp(since, next) != 0) {
			if (push_position(mx, next) == -1)
				break;
			free(since);
			since = next;
			next = NULL;
		}
		if (!insync) {
			log_info("matrix %s: in sync", mx->id);
			insync = 1;
		}
next:
		free(next);
		json_decref(root);
		mx_resp_free(&r);
		if (tok) {
			explicit_bzero(tok, strlen(tok));
			free(tok);
		}
		free(url);
		if (wait > 0)
			mx_sleep(mx, wait);
	}
	free(since);
	free(filter);
	free(filter0);
}

void *
matrix_thread(void *arg)
{
	const struct matrix_args *a = arg;
	struct mx *mx;
	struct mx_sender snd;
	pthread_t sender;
	int sender_started = 0, attempt = 0;
	const char *lim;
	char *err = NULL;
	size_t n;

	mx = xcalloc(1, sizeof(*mx));
	memset(&snd, 0, sizeof(snd));
	pthread_mutex_init(&mx->lock, NULL);
	mx->env = a->env;
	mx->acct = a->acct;
	mx->id = a->acct->id;
	mx->base = xstrdup(a->acct->homeserver);
	n = strlen(mx->base);
	while (n > 0 && mx->base[n - 1] == '/')
		mx->base[--n] = '\0';
	mx->timeline_limit = 50;
	if ((lim = getenv("BART_MATRIX_TIMELINE_LIMIT")) != NULL &&
	    atoi(lim) > 0 && atoi(lim) <= 1000)
		mx->timeline_limit = atoi(lim);
	state_path_init(mx);
	mx->nrooms = a->acct->nrooms;
	mx->rooms = xcalloc(mx->nrooms ? mx->nrooms : 1, sizeof(*mx->rooms));
	for (size_t i = 0; i < mx->nrooms; i++) {
		mx->rooms[i].cfg = &a->acct->rooms[i];
		if (mx->rooms[i].cfg->id[0] == '!')
			mx->rooms[i].room_id = xstrdup(mx->rooms[i].cfg->id);
	}
	if (mx_http_init(&mx->http, a->env->stopping) == -1)
		goto done;
	if ((mx->store = store_open(a->env->db_path, &err)) == NULL) {
		log_warnx("matrix %s: store: %s", mx->id, err ? err : "?");
		free(err);
		goto done;
	}

	while (!stopping(mx)) {
		int64_t wait = 0;

		if (mx_login(mx, &mx->http, 0, 0, &wait) == 0)
			break;
		mx_sleep(mx, wait ? wait : backoff_ms(attempt++, 1000,
		    60000));
	}
	if (stopping(mx))
		goto done;

	for (size_t i = 0; i < mx->nrooms && !stopping(mx); i++)
		room_join(mx, &mx->rooms[i], NULL);

	snd.mx = mx;
	if (mx_http_init(&snd.http, a->env->stopping) == -1)
		goto done;
	if ((snd.store = store_open(a->env->db_path, &err)) == NULL) {
		log_warnx("matrix %s: store: %s", mx->id, err ? err : "?");
		free(err);
		goto done;
	}
	if (pthread_create(&sender, NULL, sender_thread, &snd) != 0) {
		log_warnx("matrix %s: cannot start the sender", mx->id);
		goto done;
	}
	sender_started = 1;

	sync_loop(mx);
done:
	if (sender_started)
		pthread_join(sender, NULL);
	mx_http_free(&snd.http);
	if (snd.store)
		store_close(snd.store);
	free(snd.retry);
	log_info("matrix %s: stopped", a->acct->id);
	mx_free(mx);
	return NULL;
}
