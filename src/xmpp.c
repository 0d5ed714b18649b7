/* xmpp.c: the XMPP connector (libstrophe). One account, one thread, one
 * xmpp_ctx_t. It joins the configured MUC rooms (XEP-0045) without
 * history, catches up from the room archive (XEP-0313, RSM paging) from
 * the last committed position, turns groupchat messages into struct
 * message for the core, and says what the chat outbox holds. It keeps
 * the connection honest with XEP-0199 pings (to the server and, XEP-0410,
 * to itself in each room) and reconnects with jittered backoff.
 *
 * Positions: archive items carry their archive id, live messages their
 * room-stamped stanza-id (XEP-0359), except while the room's catch-up
 * runs (NULL: the archive walk moves the position). The core commits a
 * position together with what the message produced, in queue order. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <strophe.h>

#include "connector.h"
#include "log.h"
#include "message.h"
#include "store.h"
#include "util.h"

#define NS_MUC		"http://jabber.org/protocol/muc"
#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_MAM		"urn:xmpp:mam:2"
#define NS_RSM		"http://jabber.org/protocol/rsm"
#define NS_FORWARD	"urn:xmpp:forward:0"
#define NS_DELAY	"urn:xmpp:delay"
#define NS_SID		"urn:xmpp:sid:0"
#define NS_REPLY	"urn:xmpp:reply:0"
#define NS_PING		"urn:xmpp:ping"
#define NS_DATA		"jabber:x:data"
#define NS_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"

#define RUN_MS		100		/* one turn of the event loop */
#define OUTBOX_MS	250		/* chat outbox poll */
#define OUTBOX_BATCH	32
#define CONNECT_MAX_MS	30000		/* stream negotiation must end */
#define JOIN_MAX_MS	30000		/* join unanswered: try again */
#define REJOIN_MS	5000		/* after a kick or a failed join */
#define MAM_PAGE	50
#define MAM_MAX_MS	60000		/* one archive page must come */
#define MAM_RETRY_MS	30000
#define NICK_TRIES	10
#define STABLE_MS	60000		/* lived this long: backoff reset */
#define BACKOFF_BASE	1000
#define BACKOFF_CAP	(5 * 60 * 1000)
#define OWN_IDS		512		/* origin-ids we sent, remembered */
#define INFLIGHT_MS	30000		/* wait this long for our echo */
#define POS_TIME	"t:"		/* position "t:<unix ms>": no archive id
					 * yet, catch up by time from here */

struct xc;

struct room {
	struct xc		*xc;
	const struct cfg_room	*cfg;
	const char		*jid;		/* cfg->id */
	const char		*base_nick;
	char			*nick;		/* current (maybe suffixed) */
	int			 tries;		/* nick conflicts so far */
	int			 joined;
	int			 joining;
	int64_t			 join_at;	/* mono: join sent/due */
	/* catch-up (XEP-0313) */
	int			 catching_up;
	int			 latest_only;	/* no position: newest */
	int			 mam_unsupported;
	char			*qid;		/* queryid of this page */
	char			*iqid;
	int64_t			 mam_sent;
	int64_t			 mam_retry_at;	/* mono; 0 = none */
	char			*start_pos;	/* position the walk began at */
	char			*page_last;	/* last archive id seen */
	char			*pushed_pos;	/* last position pushed */
	char			*after;		/* RSM after asked */
	size_t			 nitems;
	/* self-ping (XEP-0410) */
	char			*spid;
	int64_t			 sp_sent;
};

struct inflight {
	int64_t		 id;		/* chat_out row */
	char		*txn_id;
	int64_t		 sent_at;	/* mono */
};

struct xc {
	const struct connector_env	*env;
	const struct cfg_xmpp		*acct;
	struct store			*store;
	xmpp_ctx_t			*ctx;
	xmpp_conn_t			*conn;
	xmpp_log_t			 logger;
	int				 connected;	/* session up */
	int				 dead;		/* tear down, retry */
	int				 attempt;
	int64_t				 connect_at;	/* mono: next attempt */
	int64_t				 started_at;	/* mono: attempt */
	int64_t				 connected_at;
	char				*domain;
	struct room			*rooms;
	size_t				 nrooms;
	unsigned long			 seq;		/* for stanza ids */
	/* XEP-0199 */
	char				*ping_id;
	int64_t				 ping_sent;
	int64_t				 ping_next;
	/* outbox */
	int64_t				 outbox_next;
	struct inflight			*inflight;
	size_t				 ninflight;
	struct ring {
		char	*ids[OWN_IDS];
		size_t	 next;
	}				 own,		/* origin-ids we sent */
					 echoed;	/* ...the room has */
};

static pthread_once_t strophe_once = PTHREAD_ONCE_INIT;

static void
strophe_init(void)
{
	xmpp_initialize();
}

/* libstrophe's own logging: warnings and errors only. Its debug level
 * prints every stanza, SASL exchange included, and must not reach us. */
static void
strophe_log(void *ud, xmpp_log_level_t level, const char *area,
    const char *msg)
{
	const struct xc *xc = ud;

	if (level == XMPP_LEVEL_ERROR)
		log_warnx("xmpp %s: %s: %.200s", xc->acct->id, area, msg);
	else if (level == XMPP_LEVEL_WARN)
		log_debug("xmpp %s: libstrophe %s: %.200s", xc->acct->id, area,
		    msg);
}

/* A certificate that does not verify ends the attempt, and says why. */
static int
certfail(const xmpp_tlscert_t *cert, const char *const errormsg)
{
	const char *name = xmpp_tlscert_get_dnsname(cert, 0);

	log_warnx("xmpp: TLS certificate%s%s is not trusted: %s; not "
	    "connecting", name ? " for " : "", name ? name : "",
	    errormsg ? errormsg : "verification failed");
	return 0;
}

/* A fresh stanza id; caller frees. */
static char *
new_id(struct xc *xc, const char *what)
{
	return xasprintf("bart-%s-%lu-%08x", what, ++xc->seq,
	    (unsigned)random_below(UINT32_MAX));
}

/* ------------------------------------------------------------------ */
/* Stanza helpers                                                      */

static xmpp_stanza_t *
child(xmpp_stanza_t *st, const char *name, const char *ns)
{
	if (st == NULL)
		return NULL;
	if (ns == NULL)
		return xmpp_stanza_get_child_by_name(st, name);
	return xmpp_stanza_get_child_by_name_and_ns(st, name, ns);
}

/* New element name (ns may be NULL) added to parent; returns it (owned by
 * parent). */
static xmpp_stanza_t *
add_el(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
    const char *ns)
{
	xmpp_stanza_t *el;

	el = xmpp_stanza_new(ctx);
	xmpp_stanza_set_name(el, name);
	if (ns != NULL)
		xmpp_stanza_set_ns(el, ns);
	xmpp_stanza_add_child(parent, el);
	xmpp_stanza_release(el);
	return el;
}

static void
add_text_el(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
    const char *ns, const char *text)
{
	xmpp_stanza_t *el, *t;

	el = add_el(ctx, parent, name, ns);
	if (text != NULL && *text != '\0') {
		t = xmpp_stanza_new(ctx);
		xmpp_stanza_set_text(t, text);
		xmpp_stanza_add_child(el, t);
		xmpp_stanza_release(t);
	}
}

/* An id from a peer we are willing to keep: present, sane length. */
static int
id_ok(const char *id)
{
	size_t n;

	if (id == NULL)
		return 0;
	n = strlen(id);
	return n > 0 && n < MSG_ID_MAX;
}

/* Splits "bare/resource": the resource part or NULL. */
static const char *
jid_resource(const char *jid)
{
	const char *p;

	if (jid == NULL || (p = strchr(jid, '/')) == NULL)
		return NULL;
	return p + 1;
}

/* 1 if jid's bare part equals bare (domain and node are case-blind). */
static int
bare_eq(const char *jid, const char *bare)
{
	size_t n;
	const char *slash;

	if (jid == NULL || bare == NULL)
		return 0;
	slash = strchr(jid, '/');
	n = slash ? (size_t)(slash - jid) : strlen(jid);
	return strlen(bare) == n && strncasecmp(jid, bare, n) == 0;
}

static struct room *
room_by_jid(struct xc *xc, const char *jid)
{
	for (size_t i = 0; i < xc->nrooms; i++)
		if (bare_eq(jid, xc->rooms[i].jid))
			return &xc->rooms[i];
	return NULL;
}

/* The stanza-id the room stamped (by == room), or NULL. */
static const char *
room_stanza_id(xmpp_stanza_t *msg, const char *room)
{
	xmpp_stanza_t *c;
	const char *name, *ns;

	for (c = xmpp_stanza_get_children(msg); c != NULL;
	    c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c))
			continue;
		name = xmpp_stanza_get_name(c);
		ns = xmpp_stanza_get_ns(c);
		if (name == NULL || ns == NULL || strcmp(name, "stanza-id") ||
		    strcmp(ns, NS_SID))
			continue;
		if (bare_eq(xmpp_stanza_get_attribute(c, "by"), room) &&
		    jid_resource(xmpp_stanza_get_attribute(c, "by")) == NULL &&
		    id_ok(xmpp_stanza_get_attribute(c, "id")))
			return xmpp_stanza_get_attribute(c, "id");
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Own messages                                                        */

static void
ring_add(struct ring *r, const char *id)
{
	free(r->ids[r->next]);
	r->ids[r->next] = xstrdup(id);
	r->next = (r->next + 1) % OWN_IDS;
}

static int
ring_has(const struct ring *r, const char *id)
{
	if (id == NULL)
		return 0;
	for (size_t i = 0; i < OWN_IDS; i++)
		if (r->ids[i] != NULL && strcmp(r->ids[i], id) == 0)
			return 1;
	return 0;
}

static void
ring_free(struct ring *r)
{
	for (size_t i = 0; i < OWN_IDS; i++)
		free(r->ids[i]);
}

/* Nick is ours now, or one we may have used before (base, base-N). */
static int
nick_is_ours(const struct room *r, const char *nick, int history)
{
	size_t n;

	if (nick == NULL)
		return 0;
	if (r->nick != NULL && strcmp(nick, r->nick) == 0)
		return 1;
	if (!history)
		return 0;
	n = strlen(r->base_nick);
	if (strncmp(nick, r->base_nick, n) != 0)
		return 0;
	if (nick[n] == '\0')
		return 1;
	if (nick[n] != '-' || nick[n + 1] == '\0')
		return 0;
	return strspn(nick + n + 1, "0123456789") == strlen(nick + n + 1);
}

/* Our echo arrived: the room has it, the outbox row is done. */
static void
inflight_done(struct xc *xc, const char *txn_id, const char *why)
{
	for (size_t i = 0; i < xc->ninflight; i++) {
		if (strcmp(xc->inflight[i].txn_id, txn_id) != 0)
			continue;
		if (store_chat_sent(xc->store, xc->inflight[i].id) == -1)
			log_warnx("xmpp %s: cannot mark chat message %lld sent",
			    xc->acct->id, (long long)xc->inflight[i].id);
		else
			log_debug("xmpp %s: chat message %lld %s",
			    xc->acct->id, (long long)xc->inflight[i].id, why);
		free(xc->inflight[i].txn_id);
		xc->inflight[i] = xc->inflight[--xc->ninflight];
		return;
	}
}

static int
inflight_has(struct xc *xc, int64_t id)
{
	for (size_t i = 0; i < xc->ninflight; i++)
		if (xc->inflight[i].id == id)
			return 1;
	return 0;
}

static void
inflight_clear(struct xc *xc)
{
	for (size_t i = 0; i < xc->ninflight; i++)
		free(xc->inflight[i].txn_id);
	xc->ninflight = 0;
}

/* ------------------------------------------------------------------ */
/* Messages to the core                                                */

static void
push(struct xc *xc, struct message *m)
{
	int64_t t0 = mono_ms(), waited;

	if (queue_push(xc->env->inbox, m) == -1)
		message_free(m);	/* shutting down */
	/* Time spent waiting for the core is not the server's silence:
	 * answers may be unread in our socket. */
	waited = mono_ms() - t0;
	if (xc->ping_id != NULL)
		xc->ping_sent += waited;
	for (size_t i = 0; i < xc->nrooms; i++)
		if (xc->rooms[i].catching_up)
			xc->rooms[i].mam_sent += waited;
}

/* Copy of body cut to MSG_TEXT_MAX on a character boundary, sanitized;
 * caller frees. */
static char *
body_text(const char *body, size_t *lenp)
{
	size_t n = strlen(body);

	if (n > MSG_TEXT_MAX) {
		n = MSG_TEXT_MAX;
		while (n > 0 && ((unsigned char)body[n] & 0xc0) == 0x80)
			n--;
	}
	return utf8_sanitize(body, n, lenp);
}

/* Pushes a position-only event: the core commits pos for the room. */
static void
push_position(struct xc *xc, struct room *r, const char *pos)
{
	struct message *m;

	m = xcalloc(1, sizeof(*m));
	m->network = NET_XMPP;
	m->account = xstrdup(xc->acct->id);
	m->room = xstrdup(r->jid);
	m->position = xstrdup(pos);
	m->history = 1;
	push(xc, m);
	free(r->pushed_pos);
	r->pushed_pos = xstrdup(pos);
}

/* One groupchat message (live, or unwrapped from the archive with its
 * archive id and delay) for room r. Returns 1 if pushed. */
static int
groupchat(struct xc *xc, struct room *r, xmpp_stanza_t *msg,
    const char *archive_id, xmpp_stanza_t *delay)
{
	struct message *m;
	xmpp_stanza_t *el, *item;
	const char *from, *nick, *sid, *id, *stamp, *real;
	char *body = NULL;
	int history = archive_id != NULL;

	from = xmpp_stanza_get_from(msg);
	nick = jid_resource(from);
	if (from == NULL || !bare_eq(from, r->jid) || nick == NULL ||
	    *nick == '\0')
		return 0;		/* the room itself, or not this room */
	el = child(msg, "origin-id", NS_SID);
	id = el ? xmpp_stanza_get_attribute(el, "id") : NULL;
	if (nick_is_ours(r, nick, history) || ring_has(&xc->own, id)) {
		/* Ours: the room has it. Outbox rows with this origin-id
		 * (sent before a reconnect or restart) are done. */
		if (id != NULL) {
			inflight_done(xc, id, "echoed by the room");
			if (!ring_has(&xc->echoed, id))
				ring_add(&xc->echoed, id);
		}
		return 0;
	}
	if (child(msg, "subject", NULL) != NULL &&
	    child(msg, "body", NULL) == NULL)
		return 0;
	if ((body = xmpp_message_get_body(msg)) == NULL)
		return 0;

	m = xcalloc(1, sizeof(*m));
	m->network = NET_XMPP;
	m->account = xstrdup(xc->acct->id);
	m->room = xstrdup(r->jid);
	m->history = history;
	if (history) {
		m->msgid = xstrdup(archive_id);
		m->position = xstrdup(archive_id);
	} else if ((sid = room_stanza_id(msg, r->jid)) != NULL) {
		m->msgid = xstrdup(sid);
		if (!r->catching_up)
			m->position = xstrdup(sid);
	} else if (id_ok(xmpp_stanza_get_id(msg))) {
		m->msgid = xasprintf("msgid:%s", xmpp_stanza_get_id(msg));
	} else {
		char u[37];

		uuid_v4(u);
		m->msgid = xasprintf("local:%s", u);
	}
	/* The real JID only where the room shows it (non-anonymous). */
	item = child(child(msg, "x", NS_MUC_USER), "item", NULL);
	real = item ? xmpp_stanza_get_attribute(item, "jid") : NULL;
	if (real != NULL && strlen(real) < MSG_ID_MAX)
		m->sender = xstrdup(real);
	else if (strlen(from) < MSG_ID_MAX)
		m->sender = xstrdup(from);
	else
		m->sender = xstrndup(from, MSG_ID_MAX);	/* cut, not read past */
	el = child(msg, "reply", NS_REPLY);
	if (el != NULL && id_ok(xmpp_stanza_get_attribute(el, "id")))
		m->reply_to = xstrdup(xmpp_stanza_get_attribute(el, "id"));
	if (delay == NULL)
		delay = child(msg, "delay", NS_DELAY);
	stamp = delay ? xmpp_stanza_get_attribute(delay, "stamp") : NULL;
	m->ts = stamp ? parse_time_iso(stamp) : -1;
	if (m->ts <= 0)
		m->ts = now_ms();
	m->text = body_text(body, &m->textlen);
	xmpp_free(xc->ctx, body);

	if (history) {
		free(r->pushed_pos);
		r->pushed_pos = xstrdup(archive_id);
	}
	log_debug("xmpp %s: %s message %s in %s (%zu bytes)", xc->acct->id,
	    history ? "archived" : "live", m->msgid, r->jid, m->textlen);
	push(xc, m);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

static void
send_join(struct xc *xc, struct room *r)
{
	xmpp_stanza_t *p, *x, *h;
	char *to;

	to = xasprintf("%s/%s", r->jid, r->nick);
	p = xmpp_presence_new(xc->ctx);
	xmpp_stanza_set_to(p, to);
	x = add_el(xc->ctx, p, "x", NS_MUC);
	h = add_el(xc->ctx, x, "history", NULL);
	xmpp_stanza_set_attribute(h, "maxstanzas", "0");
	xmpp_send(xc->conn, p);
	xmpp_stanza_release(p);
	free(to);
	r->joining = 1;
	r->joined = 0;
	r->join_at = mono_ms();
	log_info("xmpp %s: joining %s as %s", xc->acct->id, r->jid, r->nick);
}

static int mam_result(xmpp_conn_t *, xmpp_stanza_t *, void *);

/* Asks the archive for the next page: after the committed position, or
 * (latest_only) for the newest item alone. */
static void
mam_query(struct xc *xc, struct room *r, const char *after)
{
	xmpp_stanza_t *iq, *q, *set, *x, *f;
	char tbuf[40];

	free(r->qid);
	free(r->iqid);
	free(r->after);
	r->after = after ? xstrdup(after) : NULL;
	r->qid = new_id(xc, "q");
	r->iqid = new_id(xc, "mam");
	iq = xmpp_iq_new(xc->ctx, "set", r->iqid);
	xmpp_stanza_set_to(iq, r->jid);
	q = add_el(xc->ctx, iq, "query", NS_MAM);
	xmpp_stanza_set_attribute(q, "queryid", r->qid);
	if (!r->latest_only && r->start_pos != NULL &&
	    strncmp(r->start_pos, POS_TIME, strlen(POS_TIME)) == 0) {
		fmt_time_ms(strtoll(r->start_pos + strlen(POS_TIME), NULL, 10),
		    tbuf, sizeof(tbuf));
		x = add_el(xc->ctx, q, "x", NS_DATA);
		xmpp_stanza_set_type(x, "submit");
		f = add_el(xc->ctx, x, "field", NULL);
		xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
		xmpp_stanza_set_type(f, "hidden");
		add_text_el(xc->ctx, f, "value", NULL, NS_MAM);
		f = add_el(xc->ctx, x, "field", NULL);
		xmpp_stanza_set_attribute(f, "var", "start");
		add_text_el(xc->ctx, f, "value", NULL, tbuf);
	}
	set = add_el(xc->ctx, q, "set", NS_RSM);
	snprintf(tbuf, sizeof(tbuf), "%d", r->latest_only ? 1 : MAM_PAGE);
	add_text_el(xc->ctx, set, "max", NULL, tbuf);
	if (r->latest_only)
		add_el(xc->ctx, set, "before", NULL);
	else if (after != NULL)
		add_text_el(xc->ctx, set, "after", NULL, after);
	xmpp_id_handler_add(xc->conn, mam_result, r->iqid, r);
	xmpp_send(xc->conn, iq);
	xmpp_stanza_release(iq);
	r->mam_sent = mono_ms();
}

static void
catchup_end(struct xc *xc, struct room *r)
{
	r->catching_up = 0;
	free(r->qid);
	free(r->iqid);
	r->qid = r->iqid = NULL;
	xc->outbox_next = 0;	/* say what waited for this room */
}

/* Starts the walk through the archive after joining. */
static void
catchup_start(struct xc *xc, struct room *r)
{
	char *pos;

	r->mam_retry_at = 0;
	if (r->mam_unsupported) {
		catchup_end(xc, r);
		return;
	}
	pos = store_position_get(xc->store, NET_XMPP, xc->acct->id, r->jid);
	free(r->start_pos);
	free(r->page_last);
	free(r->pushed_pos);
	r->start_pos = pos;
	r->page_last = NULL;
	r->pushed_pos = pos ? xstrdup(pos) : NULL;
	r->nitems = 0;
	r->catching_up = 1;
	r->latest_only = pos == NULL;
	log_info("xmpp %s: catching up in %s from %s", xc->acct->id, r->jid,
	    pos ? pos : "now");
	mam_query(xc, r, pos && strncmp(pos, POS_TIME, strlen(POS_TIME)) ?
	    pos : NULL);
}

/* The end of one page of archive results (the iq answer). */
static int
mam_result(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct room *r = ud;
	struct xc *xc = r->xc;
	xmpp_stanza_t *fin, *err, *last;
	const char *type, *complete, *newest;
	char *lastid = NULL, *pos;

	(void)conn;
	if (r->iqid == NULL || !r->catching_up || xmpp_stanza_get_id(st) ==
	    NULL || strcmp(xmpp_stanza_get_id(st), r->iqid) != 0)
		return 0;	/* the answer to a query we gave up on */
	type = xmpp_stanza_get_type(st);
	if (type != NULL && strcmp(type, "error") == 0) {
		err = child(st, "error", NULL);
		if (child(err, "item-not-found", NS_STANZAS) != NULL &&
		    !r->latest_only && r->start_pos != NULL) {
			/* Our position fell out of the archive. */
			log_warnx("xmpp %s: %s no longer has position %s in "
			    "its archive; messages in between may be missed",
			    xc->acct->id, r->jid, r->start_pos);
			r->latest_only = 1;
			mam_query(xc, r, NULL);
			return 0;
		}
		if (child(err, "feature-not-implemented", NS_STANZAS) ||
		    child(err, "service-unavailable", NS_STANZAS)) {
			log_warnx("xmpp %s: %s keeps no archive (XEP-0313); "
			    "messages while bart is away are lost",
			    xc->acct->id, r->jid);
			r->mam_unsupported = 1;
		} else {
			log_warnx("xmpp %s: archive query in %s failed; "
			    "trying again later", xc->acct->id, r->jid);
			r->mam_retry_at = mono_ms() + MAM_RETRY_MS;
		}
		catchup_end(xc, r);
		return 0;
	}
	fin = child(st, "fin", NS_MAM);
	if (fin == NULL) {
		log_warnx("xmpp %s: archive answer from %s without <fin>",
		    xc->acct->id, r->jid);
		r->mam_retry_at = mono_ms() + MAM_RETRY_MS;
		catchup_end(xc, r);
		return 0;
	}
	complete = xmpp_stanza_get_attribute(fin, "complete");
	last = child(child(fin, "set", NS_RSM), "last", NULL);
	if (last != NULL)
		lastid = xmpp_stanza_get_text(last);
	if (lastid != NULL && !id_ok(lastid)) {
		xmpp_free(xc->ctx, lastid);
		lastid = NULL;
	}

	if (r->latest_only) {
		/* No position yet: start from the newest item, or from now
		 * if the archive is empty. Nothing is replayed. */
		newest = lastid != NULL ? lastid : r->page_last;
		if (newest != NULL)
			pos = xstrdup(newest);
		else
			pos = xasprintf(POS_TIME "%lld", (long long)now_ms());
		if (store_position_set(xc->store, NET_XMPP, xc->acct->id,
		    r->jid, pos) == -1)
			log_warnx("xmpp %s: cannot store position of %s",
			    xc->acct->id, r->jid);
		log_info("xmpp %s: %s starts at %s", xc->acct->id, r->jid,
		    newest ? newest : "now (empty archive)");
		free(pos);
		if (lastid != NULL)
			xmpp_free(xc->ctx, lastid);
		catchup_end(xc, r);
		return 0;
	}

	if (lastid != NULL) {
		free(r->page_last);
		r->page_last = xstrdup(lastid);
	}
	if ((complete == NULL || (strcmp(complete, "true") &&
	    strcmp(complete, "1"))) && lastid != NULL) {
		if (r->after != NULL && strcmp(r->after, lastid) == 0) {
			/* A server that pages in place: do not loop. */
			log_warnx("xmpp %s: archive of %s does not move past "
			    "%s; catch-up stops there", xc->acct->id, r->jid,
			    lastid);
		} else {
			mam_query(xc, r, lastid);
			xmpp_free(xc->ctx, lastid);
			return 0;
		}
	}
	if (lastid != NULL)
		xmpp_free(xc->ctx, lastid);
	/* Done. Move the position over items we skipped at the end. */
	if (r->page_last != NULL && (r->pushed_pos == NULL ||
	    strcmp(r->pushed_pos, r->page_last) != 0))
		push_position(xc, r, r->page_last);
	log_info("xmpp %s: caught up in %s (%zu archived messages)",
	    xc->acct->id, r->jid, r->nitems);
	catchup_end(xc, r);
	return 0;
}

/* One <message><result/></message> of an archive query. */
static void
mam_item(struct xc *xc, struct room *r, xmpp_stanza_t *result)
{
	xmpp_stanza_t *fwd, *msg, *delay;
	const char *qid, *id;

	qid = xmpp_stanza_get_attribute(result, "queryid");
	id = xmpp_stanza_get_attribute(result, "id");
	if (!r->catching_up || r->qid == NULL || qid == NULL ||
	    strcmp(qid, r->qid) != 0 || !id_ok(id))
		return;
	free(r->page_last);
	r->page_last = xstrdup(id);
	if (r->latest_only)
		return;
	fwd = child(result, "forwarded", NS_FORWARD);
	msg = child(fwd, "message", NULL);
	if (msg == NULL)
		return;
	delay = child(fwd, "delay", NS_DELAY);
	if (groupchat(xc, r, msg, id, delay))
		r->nitems++;
}

static void
send_chat(struct xc *xc, struct room *r, const struct chat_out *c)
{
	xmpp_stanza_t *m, *el;
	const char *reply;

	m = xmpp_message_new(xc->ctx, "groupchat", r->jid, c->txn_id);
	xmpp_message_set_body(m, c->body);
	el = add_el(xc->ctx, m, "origin-id", NS_SID);
	xmpp_stanza_set_attribute(el, "id", c->txn_id);
	/* XEP-0461 in a room refers to the room's stanza-id; our msgids
	 * without one are "msgid:<id attribute>" or a local uuid. */
	reply = c->reply_to;
	if (reply != NULL && strncmp(reply, "msgid:", 6) == 0)
		reply += 6;
	else if (reply != NULL && strncmp(reply, "local:", 6) == 0)
		reply = NULL;
	if (reply != NULL && *reply != '\0') {
		el = add_el(xc->ctx, m, "reply", NS_REPLY);
		xmpp_stanza_set_attribute(el, "id", reply);
	}
	xmpp_send(xc->conn, m);
	xmpp_stanza_release(m);
	if (!ring_has(&xc->own, c->txn_id))
		ring_add(&xc->own, c->txn_id);
}

/* Sends what the chat outbox holds for joined, caught-up rooms. */
static void
outbox_flush(struct xc *xc)
{
	struct chat_out **rows = NULL;
	struct room *r;
	struct inflight *f;
	int n;
	int64_t now = mono_ms();

	/* Echo never came: the room took it or refused it; do not loop. */
	for (size_t i = 0; i < xc->ninflight; ) {
		if (now - xc->inflight[i].sent_at < INFLIGHT_MS) {
			i++;
			continue;
		}
		log_warnx("xmpp %s: no echo of chat message %lld; counting it "
		    "as sent", xc->acct->id, (long long)xc->inflight[i].id);
		inflight_done(xc, xc->inflight[i].txn_id, "sent (no echo)");
	}

	n = store_chat_pending(xc->store, NET_XMPP, xc->acct->id, &rows,
	    OUTBOX_BATCH);
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		struct chat_out *c = rows[i];

		if (inflight_has(xc, c->id))
			goto next;
		if ((r = room_by_jid(xc, c->room)) == NULL) {
			log_warnx("xmpp %s: chat message %lld for unknown room "
			    "%s dropped", xc->acct->id, (long long)c->id,
			    c->room);
			store_chat_sent(xc->store, c->id);
			goto next;
		}
		if (!r->joined || r->catching_up)
			goto next;	/* waits */
		if (ring_has(&xc->echoed, c->txn_id)) {
			/* The room has it (seen in the archive after a
			 * reconnect or restart): do not say it twice. */
			store_chat_sent(xc->store, c->id);
			goto next;
		}
		send_chat(xc, r, c);
		xc->inflight = xrealloc(xc->inflight,
		    (xc->ninflight + 1) * sizeof(*xc->inflight));
		f = &xc->inflight[xc->ninflight++];
		f->id = c->id;
		f->txn_id = xstrdup(c->txn_id);
		f->sent_at = now;
		log_debug("xmpp %s: said chat message %lld in %s",
		    xc->acct->id, (long long)c->id, r->jid);
next:
		chat_out_free(c);
	}
	free(rows);
}

/* ------------------------------------------------------------------ */
/* Incoming stanzas                                                    */

/* 1 if x (muc#user) carries <status code=code/>. */
static int
has_status(xmpp_stanza_t *x, const char *code)
{
	xmpp_stanza_t *c;
	const char *name, *v;

	for (c = x ? xmpp_stanza_get_children(x) : NULL; c != NULL;
	    c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c) || (name = xmpp_stanza_get_name(c))
		    == NULL || strcmp(name, "status") != 0)
			continue;
		v = xmpp_stanza_get_attribute(c, "code");
		if (v != NULL && strcmp(v, code) == 0)
			return 1;
	}
	return 0;
}

/* Name of the first defined condition in an <error/>, or "unknown". */
static const char *
error_condition(xmpp_stanza_t *st)
{
	xmpp_stanza_t *err, *c;
	const char *ns;

	err = child(st, "error", NULL);
	for (c = err ? xmpp_stanza_get_children(err) : NULL; c != NULL;
	    c = xmpp_stanza_get_next(c)) {
		if (!xmpp_stanza_is_tag(c))
			continue;
		ns = xmpp_stanza_get_ns(c);
		if (ns != NULL && strcmp(ns, NS_STANZAS) == 0 &&
		    strcmp(xmpp_stanza_get_name(c), "text") != 0)
			return xmpp_stanza_get_name(c);
	}
	return "unknown";
}

static void
room_left(struct xc *xc, struct room *r, int64_t retry_in)
{
	r->joined = 0;
	r->joining = 0;
	r->join_at = mono_ms() + retry_in;
	if (r->catching_up)
		catchup_end(xc, r);
	free(r->spid);
	r->spid = NULL;
}

static int
on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xc *xc = ud;
	struct room *r;
	xmpp_stanza_t *x, *item;
	const char *from, *nick, *type, *cond, *newnick;
	int self;

	(void)conn;
	from = xmpp_stanza_get_from(st);
	if ((r = room_by_jid(xc, from)) == NULL)
		return 1;
	nick = jid_resource(from);
	type = xmpp_stanza_get_type(st);
	x = child(st, "x", NS_MUC_USER);
	self = has_status(x, "110") ||
	    (nick != NULL && r->nick != NULL && strcmp(nick, r->nick) == 0);

	if (type != NULL && strcmp(type, "error") == 0) {
		if (!r->joining || (nick != NULL && strcmp(nick, r->nick) != 0))
			return 1;
		cond = error_condition(st);
		if (strcmp(cond, "conflict") == 0 && r->tries < NICK_TRIES) {
			r->tries++;
			free(r->nick);
			r->nick = xasprintf("%s-%d", r->base_nick,
			    r->tries + 1);
			log_info("xmpp %s: nick taken in %s, trying %s",
			    xc->acct->id, r->jid, r->nick);
			send_join(xc, r);
			return 1;
		}
		log_warnx("xmpp %s: cannot join %s: %s", xc->acct->id, r->jid,
		    cond);
		room_left(xc, r, strcmp(cond, "conflict") == 0 ? 60000 :
		    REJOIN_MS * 6);
		return 1;
	}
	if (!self)
		return 1;
	if (type != NULL && strcmp(type, "unavailable") == 0) {
		item = child(x, "item", NULL);
		newnick = item ? xmpp_stanza_get_attribute(item, "nick") : NULL;
		if (has_status(x, "303") && newnick != NULL &&
		    strlen(newnick) < MSG_ID_MAX) {
			free(r->nick);
			r->nick = xstrdup(newnick);
			return 1;
		}
		if (r->joined || r->joining)
			log_warnx("xmpp %s: out of %s%s; joining again",
			    xc->acct->id, r->jid, has_status(x, "307") ?
			    " (kicked)" : has_status(x, "332") ?
			    " (server shutdown)" : "");
		room_left(xc, r, REJOIN_MS);
		return 1;
	}
	if (!r->joined) {
		r->joined = 1;
		r->joining = 0;
		log_info("xmpp %s: joined %s as %s", xc->acct->id, r->jid,
		    r->nick);
		catchup_start(xc, r);
	}
	return 1;
}

static int
on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xc *xc = ud;
	struct room *r;
	xmpp_stanza_t *res;
	const char *from, *type, *id, *cond;

	(void)conn;
	from = xmpp_stanza_get_from(st);
	if ((r = room_by_jid(xc, from)) == NULL)
		return 1;
	type = xmpp_stanza_get_type(st);
	if (type != NULL && strcmp(type, "error") == 0) {
		id = xmpp_stanza_get_id(st);
		if (id == NULL || !ring_has(&xc->own, id))
			return 1;
		cond = error_condition(st);
		log_warnx("xmpp %s: %s refused our message: %s", xc->acct->id,
		    r->jid, cond);
		if (strcmp(cond, "not-acceptable") == 0) {
			/* Not in the room after all: rejoin, say it again. */
			for (size_t i = 0; i < xc->ninflight; i++)
				if (strcmp(xc->inflight[i].txn_id, id) == 0) {
					free(xc->inflight[i].txn_id);
					xc->inflight[i] =
					    xc->inflight[--xc->ninflight];
					break;
				}
			room_left(xc, r, 0);
		} else
			inflight_done(xc, id, "refused by the room");
		return 1;
	}
	if (jid_resource(from) == NULL &&
	    (res = child(st, "result", NS_MAM)) != NULL) {
		mam_item(xc, r, res);
		return 1;
	}
	if (type != NULL && strcmp(type, "groupchat") == 0 && r->joined)
		groupchat(xc, r, st, NULL, NULL);
	return 1;
}

/* Answers pings; refuses every other request politely. */
static int
on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xc *xc = ud;
	xmpp_stanza_t *reply;
	const char *type;

	type = xmpp_stanza_get_type(st);
	if (type == NULL || (strcmp(type, "get") && strcmp(type, "set")))
		return 1;
	if (xmpp_stanza_get_id(st) == NULL)
		return 1;
	if (strcmp(type, "get") == 0 && child(st, "ping", NS_PING) != NULL) {
		/* xmpp_stanza_reply swaps the addresses, keeps the type */
		if ((reply = xmpp_stanza_reply(st)) != NULL)
			xmpp_stanza_set_type(reply, "result");
	} else
		reply = xmpp_stanza_reply_error(st, "cancel",
		    "service-unavailable", NULL);
	if (reply != NULL) {
		xmpp_send(conn, reply);
		xmpp_stanza_release(reply);
	}
	(void)xc;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Pings                                                               */

static int
on_pong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct xc *xc = ud;
	const char *id = xmpp_stanza_get_id(st);

	(void)conn;
	if (xc->ping_id != NULL && id != NULL && strcmp(id, xc->ping_id) == 0) {
		free(xc->ping_id);
		xc->ping_id = NULL;
	}
	return 0;
}

/* XEP-0410: the room answers for us while we are in it. */
static int
on_selfpong(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
	struct room *r = ud;
	const char *id = xmpp_stanza_get_id(st), *type, *cond;

	(void)conn;
	if (r->spid == NULL || id == NULL || strcmp(id, r->spid) != 0)
		return 0;
	free(r->spid);
	r->spid = NULL;
	type = xmpp_stanza_get_type(st);
	if (type == NULL || strcmp(type, "error") != 0 || !r->joined)
		return 0;
	cond = error_condition(st);
	if (strcmp(cond, "not-acceptable") == 0) {
		log_warnx("xmpp %s: the room %s no longer has us; joining "
		    "again", r->xc->acct->id, r->jid);
		room_left(r->xc, r, 0);
	}
	return 0;
}

static void
send_ping(struct xc *xc, const char *to, const char *id, xmpp_handler h,
    void *ud)
{
	xmpp_stanza_t *iq;

	iq = xmpp_iq_new(xc->ctx, "get", id);
	xmpp_stanza_set_to(iq, to);
	add_el(xc->ctx, iq, "ping", NS_PING);
	xmpp_id_handler_add(xc->conn, h, id, ud);
	xmpp_send(xc->conn, iq);
	xmpp_stanza_release(iq);
}

static void
ping_tick(struct xc *xc, int64_t now)
{
	int64_t interval = (xc->acct->ping_interval > 0 ?
	    xc->acct->ping_interval : 20) * 1000LL;
	int64_t timeout = (xc->acct->ping_timeout > 0 ?
	    xc->acct->ping_timeout : 20) * 1000LL;
	char *to;

	if (xc->ping_id != NULL) {
		if (now - xc->ping_sent > timeout) {
			log_warnx("xmpp %s: no answer to a ping in %lld s; "
			    "the connection is dead", xc->acct->id,
			    (long long)(timeout / 1000));
			xc->dead = 1;
		}
		return;
	}
	if (now < xc->ping_next)
		return;
	xc->ping_id = new_id(xc, "ping");
	xc->ping_sent = now;
	xc->ping_next = now + interval;
	send_ping(xc, xc->domain, xc->ping_id, on_pong, xc);
	for (size_t i = 0; i < xc->nrooms; i++) {
		struct room *r = &xc->rooms[i];

		if (r->spid != NULL && now - r->sp_sent > timeout) {
			xmpp_id_handler_delete(xc->conn, on_selfpong, r->spid);
			free(r->spid);
			r->spid = NULL;
		}
		if (!r->joined || r->spid != NULL)
			continue;
		r->spid = new_id(xc, "selfping");
		r->sp_sent = now;
		to = xasprintf("%s/%s", r->jid, r->nick);
		send_ping(xc, to, r->spid, on_selfpong, r);
		free(to);
	}
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */

static void
rooms_reset(struct xc *xc)
{
	for (size_t i = 0; i < xc->nrooms; i++) {
		struct room *r = &xc->rooms[i];

		r->joined = r->joining = 0;
		r->join_at = 0;
		r->tries = 0;
		free(r->nick);
		r->nick = xstrdup(r->base_nick);
		if (r->catching_up)
			catchup_end(xc, r);
		r->mam_retry_at = 0;
		free(r->spid);
		r->spid = NULL;
	}
}

static void
on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
    xmpp_stream_error_t *se, void *ud)
{
	struct xc *xc = ud;
	xmpp_stanza_t *pres;
	int64_t now = mono_ms();

	if (ev == XMPP_CONN_CONNECT) {
		xc->connected = 1;
		xc->connected_at = now;
		log_info("xmpp %s: connected as %s%s", xc->acct->id,
		    xmpp_conn_get_bound_jid(conn) ?
		    xmpp_conn_get_bound_jid(conn) : xc->acct->jid,
		    xmpp_conn_is_secured(conn) ? "" : " (no TLS)");
		pres = xmpp_presence_new(xc->ctx);
		xmpp_send(conn, pres);
		xmpp_stanza_release(pres);
		rooms_reset(xc);
		free(xc->ping_id);
		xc->ping_id = NULL;
		xc->ping_next = now + (xc->acct->ping_interval > 0 ?
		    xc->acct->ping_interval : 20) * 1000LL;
		xc->outbox_next = 0;
		return;
	}
	if (ev != XMPP_CONN_DISCONNECT && ev != XMPP_CONN_FAIL)
		return;
	if (xc->connected)
		log_warnx("xmpp %s: disconnected%s%s", xc->acct->id,
		    se && se->text ? ": " : "", se && se->text ?
		    se->text : "");
	else if (!*xc->env->stopping)
		log_warnx("xmpp %s: cannot connect to %s: %s%s%s",
		    xc->acct->id, xc->acct->host ? xc->acct->host : xc->domain,
		    error ? strerror(error) : "refused, closed or not "
		    "authenticated", se && se->text ? ": " : "",
		    se && se->text ? se->text : "");
	xc->connected = 0;
	xc->dead = 1;
}

static void
xc_connect(struct xc *xc)
{
	long flags;

	xc->conn = xmpp_conn_new(xc->ctx);
	flags = xc->acct->tls == TLS_PLAINTEXT ? XMPP_CONN_FLAG_DISABLE_TLS :
	    XMPP_CONN_FLAG_MANDATORY_TLS;
	xmpp_conn_set_flags(xc->conn, flags);
	xmpp_conn_set_jid(xc->conn, xc->acct->jid);
	if (xc->acct->password != NULL)
		xmpp_conn_set_pass(xc->conn, xc->acct->password);
	xmpp_conn_set_sockopt_callback(xc->conn, xmpp_sockopt_cb_keepalive);
	xmpp_conn_set_certfail_handler(xc->conn, certfail);
	xmpp_handler_add(xc->conn, on_message, NULL, "message", NULL, xc);
	xmpp_handler_add(xc->conn, on_presence, NULL, "presence", NULL, xc);
	xmpp_handler_add(xc->conn, on_iq, NULL, "iq", NULL, xc);
	xc->started_at = mono_ms();
	xc->connected = 0;
	xc->dead = 0;
	log_info("xmpp %s: connecting to %s%s", xc->acct->id,
	    xc->acct->host ? xc->acct->host : xc->domain,
	    xc->acct->tls == TLS_PLAINTEXT ? " (plaintext allowed)" : "");
	if (xmpp_connect_client(xc->conn, xc->acct->host,
	    (unsigned short)xc->acct->port, on_conn, xc) != XMPP_EOK) {
		log_warnx("xmpp %s: cannot start connecting", xc->acct->id);
		xc->dead = 1;
	}
}

/* Drops the connection (if any) and schedules the next attempt. */
static void
xc_teardown(struct xc *xc)
{
	int64_t now = mono_ms(), delay;

	if (xc->conn != NULL) {
		xmpp_conn_release(xc->conn);
		xc->conn = NULL;
	}
	if (xc->connected_at != 0 && now - xc->connected_at > STABLE_MS)
		xc->attempt = 0;
	xc->connected = 0;
	xc->connected_at = 0;
	xc->dead = 0;
	rooms_reset(xc);
	inflight_clear(xc);
	free(xc->ping_id);
	xc->ping_id = NULL;
	delay = backoff_ms(xc->attempt, BACKOFF_BASE, BACKOFF_CAP);
	if (xc->attempt < 30)
		xc->attempt++;
	xc->connect_at = now + delay;
	log_info("xmpp %s: reconnecting in %lld ms", xc->acct->id,
	    (long long)delay);
}

/* Everything that runs on the clock while connected. */
static void
tick(struct xc *xc)
{
	int64_t now = mono_ms();

	for (size_t i = 0; i < xc->nrooms && !xc->dead; i++) {
		struct room *r = &xc->rooms[i];

		if (!r->joined && !r->joining && now >= r->join_at)
			send_join(xc, r);
		else if (r->joining && now - r->join_at > JOIN_MAX_MS) {
			log_warnx("xmpp %s: no answer joining %s",
			    xc->acct->id, r->jid);
			send_join(xc, r);
		}
		if (r->catching_up && now - r->mam_sent > MAM_MAX_MS) {
			log_warnx("xmpp %s: archive of %s does not answer; "
			    "trying again later", xc->acct->id, r->jid);
			catchup_end(xc, r);
			r->mam_retry_at = now + MAM_RETRY_MS;
		}
		if (r->joined && !r->catching_up && r->mam_retry_at != 0 &&
		    now >= r->mam_retry_at)
			catchup_start(xc, r);
	}
	ping_tick(xc, now);
	if (!xc->dead && now >= xc->outbox_next) {
		outbox_flush(xc);
		xc->outbox_next = now + OUTBOX_MS;
	}
}

static void
nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void *
xmpp_thread(void *arg)
{
	const struct xmpp_args *a = arg;
	struct xc xc;
	char *err = NULL, *dom;
	int64_t until;

	memset(&xc, 0, sizeof(xc));
	xc.env = a->env;
	xc.acct = a->acct;
	pthread_once(&strophe_once, strophe_init);

	while ((xc.store = store_open(xc.env->db_path, &err)) == NULL) {
		log_warnx("xmpp %s: store: %s", xc.acct->id, err ? err : "?");
		free(err);
		err = NULL;
		for (int i = 0; i < 50; i++) {
			if (*xc.env->stopping)
				return NULL;
			nap(100);
		}
	}
	xc.logger.handler = strophe_log;
	xc.logger.userdata = &xc;
	xc.ctx = xmpp_ctx_new(NULL, &xc.logger);
	if (xc.ctx == NULL)
		fatalx("xmpp %s: cannot create a libstrophe context",
		    xc.acct->id);
	dom = xmpp_jid_domain(xc.ctx, xc.acct->jid);
	xc.domain = xstrdup(dom ? dom : xc.acct->jid);
	if (dom != NULL)
		xmpp_free(xc.ctx, dom);
	xc.nrooms = xc.acct->nrooms;
	xc.rooms = xcalloc(xc.nrooms ? xc.nrooms : 1, sizeof(*xc.rooms));
	for (size_t i = 0; i < xc.nrooms; i++) {
		struct room *r = &xc.rooms[i];

		r->xc = &xc;
		r->cfg = &xc.acct->rooms[i];
		r->jid = r->cfg->id;
		r->base_nick = r->cfg->nick ? r->cfg->nick :
		    xc.acct->nick ? xc.acct->nick : "bart";
		r->nick = xstrdup(r->base_nick);
	}

	while (!*xc.env->stopping) {
		if (xc.conn == NULL) {
			if (mono_ms() < xc.connect_at) {
				nap(RUN_MS);
				continue;
			}
			xc_connect(&xc);
		}
		if (!xc.dead)
			xmpp_run_once(xc.ctx, RUN_MS);
		if (!xc.dead && !xc.connected &&
		    mono_ms() - xc.started_at > CONNECT_MAX_MS) {
			log_warnx("xmpp %s: connecting takes too long",
			    xc.acct->id);
			xc.dead = 1;
		}
		if (!xc.dead && xc.connected)
			tick(&xc);
		if (xc.dead)
			xc_teardown(&xc);
	}

	/* Leave politely, but not for long. */
	if (xc.conn != NULL && xc.connected) {
		xmpp_disconnect(xc.conn);
		until = mono_ms() + 1000;
		while (!xmpp_conn_is_disconnected(xc.conn) && mono_ms() < until)
			xmpp_run_once(xc.ctx, RUN_MS);
	}
	if (xc.conn != NULL)
		xmpp_conn_release(xc.conn);
	xc.conn = NULL;
	for (size_t i = 0; i < xc.nrooms; i++) {
		struct room *r = &xc.rooms[i];

		free(r->nick);
		free(r->qid);
		free(r->iqid);
		free(r->start_pos);
		free(r->page_last);
		free(r->pushed_pos);
		free(r->after);
		free(r->spid);
	}
	free(xc.rooms);
	inflight_clear(&xc);
	free(xc.inflight);
	ring_free(&xc.own);
	ring_free(&xc.echoed);
	free(xc.ping_id);
	free(xc.domain);
	xmpp_ctx_free(xc.ctx);
	store_close(xc.store);
	log_info("xmpp %s: stopped", xc.acct->id);
	return NULL;
}
