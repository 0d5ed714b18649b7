/* conf.c: loads and checks the YAML configuration file. Every problem is
 * reported as file:line: message and the load fails; unknown keys are
 * errors so a typo never silently changes behaviour. */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>

#include "conf.h"
#include "log.h"
#include "message.h"
#include "rules.h"
#include "util.h"
#include "yamltree.h"

#define CONF_MAX_SIZE	(1024 * 1024)

struct ctx {
	const char	*file;
	char		*dir;		/* directory of the config file */
	struct diag	*d;
};

static void
err(struct ctx *c, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err(struct ctx *c, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	msg = xmalloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)len + 1, fmt, ap);
	va_end(ap);
	diag_error(c->d, c->file, n ? n->line : 0, 0, "%s", msg);
	free(msg);
}

/* Reports keys of map that are not in allowed (NULL-terminated). */
static void
check_keys(struct ctx *c, const struct ynode *map, const char *what,
    const char *const *allowed)
{
	for (size_t i = 0; i < map->n; i++) {
		size_t j;
		for (j = 0; allowed[j]; j++)
			if (strcmp(map->keys[i]->str, allowed[j]) == 0)
				break;
		if (allowed[j] == NULL)
			err(c, map->keys[i], "unknown key '%s' in %s",
			    map->keys[i]->str, what);
	}
}

/* A scalar value as a new string, or NULL (error if required). Caller
 * frees. */
static char *
get_str(struct ctx *c, const struct ynode *map, const char *key,
    int required, const char *what)
{
	const struct ynode *v = ymap_get(map, key);

	if (v == NULL) {
		if (required)
			err(c, map, "%s: '%s' is required", what, key);
		return NULL;
	}
	if (v->type != YN_SCALAR || v->len == 0) {
		err(c, v, "%s: '%s' must be a non-empty value", what, key);
		return NULL;
	}
	return xstrdup(v->str);
}

static int
get_int(struct ctx *c, const struct ynode *map, const char *key, long min,
    long max, int def)
{
	const struct ynode *v = ymap_get(map, key);
	long out;

	if (v == NULL)
		return def;
	if (ynode_int(v, c->file, min, max, &out, c->d) == -1)
		return def;
	return (int)out;
}

/* A value or list of values as an array of new strings (*np set). */
static char **
get_list(struct ctx *c, const struct ynode *map, const char *key, size_t *np)
{
	const struct ynode *v = ymap_get(map, key);
	char **list;

	*np = 0;
	if (v == NULL)
		return NULL;
	if (v->type == YN_SCALAR) {
		list = xcalloc(1, sizeof(*list));
		list[0] = xstrdup(v->str);
		*np = 1;
		return list;
	}
	if (v->type != YN_SEQ) {
		err(c, v, "'%s' must be a value or a list of values", key);
		return NULL;
	}
	list = xcalloc(v->n, sizeof(*list));
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i]->type != YN_SCALAR) {
			err(c, v->items[i], "'%s': list items must be values",
			    key);
			continue;
		}
		list[(*np)++] = xstrdup(v->items[i]->str);
	}
	return list;
}

static void
free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

/* Path relative to the config file's directory; caller frees. */
static char *
resolve(struct ctx *c, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s/%s", c->dir, p);
}

/* A secret from KEY_file or KEY_env; NULL if neither is given (error if
 * required). Caller frees. Never logs the value. */
static char *
get_secret(struct ctx *c, const struct ynode *map, const char *key,
    int required, const char *what)
{
	char fk[64], ek[64];
	char *file, *env, *val = NULL;
	const struct ynode *fn, *en;

	snprintf(fk, sizeof(fk), "%s_file", key);
	snprintf(ek, sizeof(ek), "%s_env", key);
	fn = ymap_get(map, fk);
	en = ymap_get(map, ek);
	if (fn && en) {
		err(c, en, "%s: give either '%s' or '%s', not both", what, fk,
		    ek);
		return NULL;
	}
	if ((file = get_str(c, map, fk, 0, what)) != NULL) {
		char *path = resolve(c, file);
		if ((val = read_secret_file(path)) == NULL)
			err(c, fn, "%s: cannot read %s: %s", what, path,
			    strerror(errno));
		else if (*val == '\0') {
			err(c, fn, "%s: %s is empty", what, path);
			free(val);
			val = NULL;
		}
		free(path);
		free(file);
		return val;
	}
	if ((env = get_str(c, map, ek, 0, what)) != NULL) {
		const char *v = getenv(env);
		if (v == NULL || *v == '\0')
			err(c, en, "%s: environment variable %s is not set",
			    what, env);
		else
			val = xstrdup(v);
		free(env);
		return val;
	}
	if (required)
		err(c, map, "%s: '%s' or '%s' is required", what, fk, ek);
	return NULL;
}

static const struct ynode *
get_seq(struct ctx *c, const struct ynode *map, const char *key)
{
	const struct ynode *v = ymap_get(map, key);

	if (v == NULL)
		return NULL;
	if (v->type != YN_SEQ) {
		err(c, v, "'%s' must be a list", key);
		return NULL;
	}
	return v;
}

static int
parse_rooms(struct ctx *c, const struct ynode *acct, struct cfg_room **roomsp,
    size_t *np, int xmpp)
{
	static const char *const keys_x[] = { "id", "neighbourhood", "nick",
	    "desk", NULL };
	static const char *const keys_m[] = { "id", "neighbourhood", "desk",
	    NULL };
	const struct ynode *dv;
	const struct ynode *seq = get_seq(c, acct, "rooms");
	struct cfg_room *rooms;

	*np = 0;
	*roomsp = NULL;
	if (seq == NULL) {
		err(c, acct, "account: 'rooms' (a list) is required");
		return -1;
	}
	rooms = xcalloc(seq->n, sizeof(*rooms));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *r = seq->items[i];
		struct cfg_room *room = &rooms[*np];

		if (r->type != YN_MAP) {
			err(c, r, "a room must be a mapping with id and "
			    "neighbourhood");
			continue;
		}
		check_keys(c, r, "room", xmpp ? keys_x : keys_m);
		room->line = r->line;
		room->id = get_str(c, r, "id", 1, "room");
		if ((dv = ymap_get(r, "desk")) != NULL)
			ynode_bool(dv, c->file, &room->desk, c->d);
		room->neighbourhood = get_str(c, r, "neighbourhood",
		    !room->desk, "room");
		if (xmpp)
			room->nick = get_str(c, r, "nick", 0, "room");
		if (room->id && xmpp && strchr(room->id, '@') == NULL)
			err(c, r, "room '%s' is not a room JID "
			    "(name@conference.host)", room->id);
		if (room->id && !xmpp && room->id[0] != '!' &&
		    room->id[0] != '#')
			err(c, r, "room '%s' is not a Matrix room id (!...) or "
			    "alias (#...)", room->id);
		for (size_t j = 0; j < *np && room->id; j++)
			if (rooms[j].id && strcmp(rooms[j].id, room->id) == 0)
				err(c, r, "room '%s' is listed twice",
				    room->id);
		(*np)++;
	}
	*roomsp = rooms;
	return 0;
}

static void
parse_xmpp(struct ctx *c, struct config *cfg, const struct ynode *seq)
{
	static const char *const keys[] = { "id", "jid", "password_file",
	    "password_env", "host", "port", "tls", "nick", "ping_interval",
	    "ping_timeout", "rooms", NULL };

	cfg->xmpp = xcalloc(seq->n, sizeof(*cfg->xmpp));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *a = seq->items[i];
		struct cfg_xmpp *x = &cfg->xmpp[cfg->nxmpp];
		char *tls;

		if (a->type != YN_MAP) {
			err(c, a, "an XMPP account must be a mapping");
			continue;
		}
		cfg->nxmpp++;
		check_keys(c, a, "XMPP account", keys);
		x->line = a->line;
		x->jid = get_str(c, a, "jid", 1, "XMPP account");
		if (x->jid && (strchr(x->jid, '@') == NULL ||
		    strchr(x->jid, '/') != NULL))
			err(c, a, "XMPP account: jid '%s' must be a bare "
			    "JID (user@host)", x->jid);
		x->id = get_str(c, a, "id", 0, "XMPP account");
		if (x->id == NULL && x->jid)
			x->id = xstrdup(x->jid);
		x->password = get_secret(c, a, "password", 1, "XMPP account");
		x->host = get_str(c, a, "host", 0, "XMPP account");
		x->port = get_int(c, a, "port", 1, 65535, 0);
		x->nick = get_str(c, a, "nick", 0, "XMPP account");
		if (x->nick == NULL)
			x->nick = xstrdup("bart");
		x->ping_interval = get_int(c, a, "ping_interval", 1, 3600, 20);
		x->ping_timeout = get_int(c, a, "ping_timeout", 1, 600, 20);
		x->tls = TLS_REQUIRED;
		if ((tls = get_str(c, a, "tls", 0, "XMPP account")) != NULL) {
			if (strcmp(tls, "plaintext") == 0)
				x->tls = TLS_PLAINTEXT;
			else if (strcmp(tls, "required") != 0)
				err(c, ymap_get(a, "tls"), "XMPP account: tls "
				    "must be 'required' or 'plaintext'");
			free(tls);
		}
		parse_rooms(c, a, &x->rooms, &x->nrooms, 1);
	}
}

static void
parse_matrix(struct ctx *c, struct config *cfg, const struct ynode *seq)
{
	static const char *const keys[] = { "id", "homeserver", "user",
	    "password_file", "password_env", "access_token_file",
	    "access_token_env", "sync_timeout", "rooms", NULL };

	cfg->matrix = xcalloc(seq->n, sizeof(*cfg->matrix));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *a = seq->items[i];
		struct cfg_matrix *m = &cfg->matrix[cfg->nmatrix];

		if (a->type != YN_MAP) {
			err(c, a, "a Matrix account must be a mapping");
			continue;
		}
		cfg->nmatrix++;
		check_keys(c, a, "Matrix account", keys);
		m->line = a->line;
		m->homeserver = get_str(c, a, "homeserver", 1,
		    "Matrix account");
		if (m->homeserver && strncmp(m->homeserver, "https://", 8) &&
		    strncmp(m->homeserver, "http://", 7))
			err(c, a, "Matrix account: homeserver must be an "
			    "http:// or https:// URL");
		m->user = get_str(c, a, "user", 1, "Matrix account");
		if (m->user && (m->user[0] != '@' || !strchr(m->user, ':')))
			err(c, a, "Matrix account: user '%s' must look like "
			    "@name:server", m->user);
		m->id = get_str(c, a, "id", 0, "Matrix account");
		if (m->id == NULL && m->user)
			m->id = xstrdup(m->user);
		m->password = get_secret(c, a, "password", 0,
		    "Matrix account");
		m->access_token = get_secret(c, a, "access_token", 0,
		    "Matrix account");
		if (!m->password && !m->access_token &&
		    !ymap_get(a, "password_file") &&
		    !ymap_get(a, "password_env") &&
		    !ymap_get(a, "access_token_file") &&
		    !ymap_get(a, "access_token_env"))
			err(c, a, "Matrix account: a password or an access "
			    "token (password_file/_env, access_token_file/"
			    "_env) is required");
		m->sync_timeout = get_int(c, a, "sync_timeout", 1, 300, 30);
		parse_rooms(c, a, &m->rooms, &m->nrooms, 0);
	}
}

static void
parse_neighbourhoods(struct ctx *c, struct config *cfg,
    const struct ynode *seq)
{
	static const char *const keys[] = { "id", "name", "cbs_code",
	    "location", NULL };

	cfg->neighbourhoods = xcalloc(seq->n, sizeof(*cfg->neighbourhoods));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *a = seq->items[i], *loc;
		struct cfg_neighbourhood *nb =
		    &cfg->neighbourhoods[cfg->nneighbourhoods];

		if (a->type != YN_MAP) {
			err(c, a, "a neighbourhood must be a mapping");
			continue;
		}
		cfg->nneighbourhoods++;
		check_keys(c, a, "neighbourhood", keys);
		nb->line = a->line;
		nb->id = get_str(c, a, "id", 1, "neighbourhood");
		nb->name = get_str(c, a, "name", 0, "neighbourhood");
		if (nb->name == NULL && nb->id)
			nb->name = xstrdup(nb->id);
		nb->cbs_code = get_str(c, a, "cbs_code", 0, "neighbourhood");
		if ((loc = ymap_get(a, "location")) != NULL) {
			char *e1 = NULL, *e2 = NULL;
			if (loc->type != YN_SEQ || loc->n != 2 ||
			    loc->items[0]->type != YN_SCALAR ||
			    loc->items[1]->type != YN_SCALAR) {
				err(c, loc, "location must be [latitude, "
				    "longitude]");
				continue;
			}
			nb->lat = strtod(loc->items[0]->str, &e1);
			nb->lon = strtod(loc->items[1]->str, &e2);
			if (*e1 || *e2 || nb->lat < -90 || nb->lat > 90 ||
			    nb->lon < -180 || nb->lon > 180)
				err(c, loc, "location must be [latitude, "
				    "longitude] in degrees");
			else
				nb->has_location = 1;
		}
		for (size_t j = 0; j + 1 < cfg->nneighbourhoods && nb->id; j++)
			if (cfg->neighbourhoods[j].id &&
			    strcmp(cfg->neighbourhoods[j].id, nb->id) == 0)
				err(c, a, "neighbourhood '%s' is defined twice",
				    nb->id);
	}
}

/* open311: service_codes is a mapping category -> code (and "default"). */
static void
desk_open311(struct ctx *c, struct cfg_desk *dk, const struct ynode *a)
{
	const struct ynode *sc = ymap_get(a, "service_codes");

	dk->api_key = get_secret(c, a, "api_key", 1, "open311 desk");
	dk->jurisdiction_id = get_str(c, a, "jurisdiction_id", 0,
	    "open311 desk");
	if (sc == NULL || sc->type != YN_MAP || sc->n == 0) {
		err(c, sc ? sc : a, "open311 desk: 'service_codes' (a mapping "
		    "category: service_code, optionally default: ...) is "
		    "required");
		return;
	}
	dk->service_codes = xcalloc(sc->n, sizeof(*dk->service_codes));
	for (size_t j = 0; j < sc->n; j++) {
		const char *k = sc->keys[j]->str;

		if (strcmp(k, "default") && category_lookup(k) == NULL)
			err(c, sc->keys[j], "open311 desk: unknown category "
			    "'%s' in service_codes", k);
		if (sc->items[j]->type != YN_SCALAR || sc->items[j]->len == 0) {
			err(c, sc->items[j], "open311 desk: service_code of "
			    "'%s' must be a non-empty value", k);
			continue;
		}
		dk->service_codes[dk->nservice_codes].category = xstrdup(k);
		dk->service_codes[dk->nservice_codes++].code =
		    xstrdup(sc->items[j]->str);
	}
}

static void
desk_email(struct ctx *c, struct cfg_desk *dk, const struct ynode *a)
{
	char *tls;

	if (dk->url && strncmp(dk->url, "smtp://", 7) &&
	    strncmp(dk->url, "smtps://", 8))
		err(c, ymap_get(a, "url"), "email desk: url must be an "
		    "smtp:// or smtps:// URL");
	dk->from = get_str(c, a, "from", 1, "email desk");
	if (ymap_get(a, "to") == NULL)
		err(c, a, "email desk: 'to' is required");
	dk->to = get_list(c, a, "to", &dk->nto);
	for (size_t j = 0; j < dk->nto; j++)
		if (strchr(dk->to[j], '@') == NULL ||
		    strpbrk(dk->to[j], "<>\r\n, ") != NULL)
			err(c, ymap_get(a, "to"), "email desk: '%s' is not a "
			    "plain address (name@example.org)", dk->to[j]);
	if (dk->from && (strchr(dk->from, '@') == NULL ||
	    strpbrk(dk->from, "<>\r\n, ") != NULL))
		err(c, ymap_get(a, "from"), "email desk: from '%s' is not a "
		    "plain address (name@example.org)", dk->from);
	dk->username = get_str(c, a, "username", 0, "email desk");
	dk->password = get_secret(c, a, "password", dk->username != NULL,
	    "email desk");
	if (dk->password && dk->username == NULL)
		err(c, a, "email desk: a password needs a 'username'");
	dk->tls = TLS_REQUIRED;
	if ((tls = get_str(c, a, "tls", 0, "email desk")) != NULL) {
		if (strcmp(tls, "plaintext") == 0)
			dk->tls = TLS_PLAINTEXT;
		else if (strcmp(tls, "required") != 0)
			err(c, ymap_get(a, "tls"), "email desk: tls must be "
			    "'required' or 'plaintext'");
		free(tls);
	}
	if (dk->tls == TLS_PLAINTEXT && dk->url &&
	    strncmp(dk->url, "smtps://", 8) == 0)
		err(c, ymap_get(a, "tls"), "email desk: tls: plaintext with "
		    "an smtps:// url (drop one)");
	else if (dk->tls == TLS_PLAINTEXT && dk->url &&
	    strncmp(dk->url + 7, "127.0.0.1", 9) &&
	    strncmp(dk->url + 7, "localhost", 9) &&
	    strncmp(dk->url + 7, "[::1]", 5))
		diag_warning(c->d, c->file, a->line, 0, "email desk '%s': "
		    "tls: plaintext sends reports%s in the clear to a host "
		    "that is not this machine", dk->id ? dk->id : "",
		    dk->password ? " and the password" : "");
}

/* xmpp-room / matrix-room: the room must be one of the account's rooms,
 * marked desk: true (so nothing said there becomes a report). */
static void
desk_room(struct ctx *c, struct config *cfg, struct cfg_desk *dk,
    const struct ynode *a)
{
	struct cfg_room *rooms = NULL, *room = NULL;
	size_t n = 0, j;
	int found = 0;

	dk->account = get_str(c, a, "account", 1, "desk");
	dk->room = get_str(c, a, "room", 1, "desk");
	if (dk->account == NULL || dk->room == NULL)
		return;
	for (j = 0; dk->type == DESK_XMPP_ROOM && j < cfg->nxmpp; j++)
		if (cfg->xmpp[j].id && strcmp(cfg->xmpp[j].id,
		    dk->account) == 0) {
			rooms = cfg->xmpp[j].rooms;
			n = cfg->xmpp[j].nrooms;
			found = 1;
		}
	for (j = 0; dk->type == DESK_MATRIX_ROOM && j < cfg->nmatrix; j++)
		if (cfg->matrix[j].id && strcmp(cfg->matrix[j].id,
		    dk->account) == 0) {
			rooms = cfg->matrix[j].rooms;
			n = cfg->matrix[j].nrooms;
			found = 1;
		}
	if (!found) {
		err(c, ymap_get(a, "account"), "desk: no %s account with id "
		    "'%s'", dk->type == DESK_XMPP_ROOM ? "xmpp" : "matrix",
		    dk->account);
		return;
	}
	for (j = 0; j < n; j++)
		if (rooms[j].id && strcmp(rooms[j].id, dk->room) == 0)
			room = &rooms[j];
	if (room == NULL)
		err(c, ymap_get(a, "room"), "desk: room '%s' is not in the "
		    "rooms of account '%s' (list it there with desk: true)",
		    dk->room, dk->account);
	else if (!room->desk)
		err(c, ymap_get(a, "room"), "desk: room '%s' of account '%s' "
		    "must be marked desk: true (and is then not read for "
		    "reports)", dk->room, dk->account);
}

static void
parse_desks(struct ctx *c, struct config *cfg, const struct ynode *seq)
{
	static const char *const keys_webhook[] = { "id", "name", "type",
	    "url", "secret_file", "secret_env", "timeout", "max_attempts",
	    "rate_per_minute", NULL };
	static const char *const keys_open311[] = { "id", "name", "type",
	    "url", "api_key_file", "api_key_env", "service_codes",
	    "jurisdiction_id", "timeout", "max_attempts", "rate_per_minute",
	    NULL };
	static const char *const keys_email[] = { "id", "name", "type",
	    "url", "from", "to", "username", "password_file", "password_env",
	    "tls", "timeout", "max_attempts", "rate_per_minute", NULL };
	static const char *const keys_room[] = { "id", "name", "type",
	    "account", "room", "max_attempts", "rate_per_minute",
	    NULL };
	static const struct {
		const char		*name;
		enum desk_type		 type;
		const char *const	*keys;
	} types[] = {
		{ "webhook", DESK_WEBHOOK, keys_webhook },
		{ "open311", DESK_OPEN311, keys_open311 },
		{ "email", DESK_EMAIL, keys_email },
		{ "xmpp-room", DESK_XMPP_ROOM, keys_room },
		{ "matrix-room", DESK_MATRIX_ROOM, keys_room },
	};

	cfg->desks = xcalloc(seq->n, sizeof(*cfg->desks));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *a = seq->items[i];
		struct cfg_desk *dk = &cfg->desks[cfg->ndesks];
		const char *const *keys = keys_webhook;
		char *type;
		size_t t;

		if (a->type != YN_MAP) {
			err(c, a, "a desk must be a mapping");
			continue;
		}
		cfg->ndesks++;
		dk->line = a->line;
		dk->id = get_str(c, a, "id", 1, "desk");
		dk->name = get_str(c, a, "name", 0, "desk");
		if (dk->name == NULL && dk->id)
			dk->name = xstrdup(dk->id);
		type = get_str(c, a, "type", 1, "desk");
		for (t = 0; type && t < nitems(types); t++)
			if (strcmp(type, types[t].name) == 0) {
				dk->type = types[t].type;
				keys = types[t].keys;
				break;
			}
		if (type && t == nitems(types))
			err(c, ymap_get(a, "type"), "desk: unknown type '%s' "
			    "(known: webhook, open311, email, xmpp-room, "
			    "matrix-room)", type);
		free(type);
		check_keys(c, a, "desk", keys);
		if (dk->type != DESK_XMPP_ROOM && dk->type != DESK_MATRIX_ROOM)
			dk->url = get_str(c, a, "url", 1, "desk");
		if (dk->url && (dk->type == DESK_WEBHOOK ||
		    dk->type == DESK_OPEN311) && strncmp(dk->url, "https://",
		    8) && strncmp(dk->url, "http://", 7))
			err(c, ymap_get(a, "url"), "desk: url must be an "
			    "http:// or https:// URL");
		if (dk->type == DESK_WEBHOOK)
			dk->secret = get_secret(c, a, "secret", 0, "desk");
		else if (dk->type == DESK_OPEN311)
			desk_open311(c, dk, a);
		else if (dk->type == DESK_EMAIL)
			desk_email(c, dk, a);
		else
			desk_room(c, cfg, dk, a);
		dk->timeout = get_int(c, a, "timeout", 1, 600, 10);
		dk->max_attempts = get_int(c, a, "max_attempts", 0, 1000000, 0);
		dk->rate_per_minute = get_int(c, a, "rate_per_minute", 0,
		    100000, 0);
		for (size_t j = 0; j + 1 < cfg->ndesks && dk->id; j++)
			if (cfg->desks[j].id &&
			    strcmp(cfg->desks[j].id, dk->id) == 0)
				err(c, a, "desk '%s' is defined twice", dk->id);
	}
}

/* days: [mon, tue, ...] or "mon-fri"; hours: "08:00-17:30". */
static void
parse_route_time(struct ctx *c, const struct ynode *a, struct cfg_route *r)
{
	static const char *names[] = { "sun", "mon", "tue", "wed", "thu",
	    "fri", "sat" };
	const struct ynode *v;
	char **days;
	size_t ndays;

	days = get_list(c, a, "days", &ndays);
	for (size_t i = 0; i < ndays; i++) {
		int from = -1, to = -1;
		char *dash = strchr(days[i], '-');
		if (dash)
			*dash = '\0';
		for (int j = 0; j < 7; j++) {
			if (strcasecmp(days[i], names[j]) == 0)
				from = j;
			if (dash && strcasecmp(dash + 1, names[j]) == 0)
				to = j;
		}
		if (from < 0 || (dash && to < 0)) {
			err(c, ymap_get(a, "days"), "route: days are mon, tue, "
			    "wed, thu, fri, sat, sun or a range like mon-fri");
			continue;
		}
		if (!dash)
			to = from;
		for (int j = from;; j = (j + 1) % 7) {
			r->days |= 1u << j;
			if (j == to)
				break;
		}
	}
	free_list(days, ndays);
	if ((v = ymap_get(a, "hours")) != NULL) {
		int h1, m1, h2, m2, n = 0;
		if (v->type != YN_SCALAR || sscanf(v->str, "%d:%d-%d:%d%n",
		    &h1, &m1, &h2, &m2, &n) != 4 || v->str[n] != '\0' ||
		    h1 < 0 || h1 > 24 || h2 < 0 || h2 > 24 || m1 < 0 ||
		    m1 > 59 || m2 < 0 || m2 > 59 || h1 * 60 + m1 > 1440 ||
		    h2 * 60 + m2 > 1440 || h1 * 60 + m1 == h2 * 60 + m2) {
			err(c, v, "route: hours must look like 08:00-17:30 "
			    "(local time; 22:00-07:00 spans midnight)");
			return;
		}
		r->from_min = (h1 * 60 + m1) % 1440;
		r->to_min = (h2 * 60 + m2) % 1440;	/* 00:00-24:00: all day */
	}
}

static void
parse_routes(struct ctx *c, struct config *cfg, const struct ynode *seq)
{
	static const char *const keys[] = { "category", "urgency",
	    "neighbourhood", "room", "network", "rule", "days", "hours",
	    "desk", "continue", NULL };

	cfg->routes = xcalloc(seq->n, sizeof(*cfg->routes));
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *a = seq->items[i], *v;
		struct cfg_route *r = &cfg->routes[cfg->nroutes];
		char **urg;
		size_t nurg;

		if (a->type != YN_MAP) {
			err(c, a, "a route must be a mapping");
			continue;
		}
		cfg->nroutes++;
		check_keys(c, a, "route", keys);
		r->line = a->line;
		r->categories = get_list(c, a, "category", &r->ncategories);
		for (size_t j = 0; j < r->ncategories; j++)
			if (category_lookup(r->categories[j]) == NULL)
				err(c, ymap_get(a, "category"), "route: "
				    "unknown category '%s'", r->categories[j]);
		urg = get_list(c, a, "urgency", &nurg);
		for (size_t j = 0; j < nurg; j++) {
			enum urgency u;
			if (urgency_parse(urg[j], &u) == -1)
				err(c, ymap_get(a, "urgency"), "route: "
				    "unknown urgency '%s' (spoed, normaal, "
				    "info)", urg[j]);
			else
				r->urgencies |= 1u << u;
		}
		free_list(urg, nurg);
		r->neighbourhoods = get_list(c, a, "neighbourhood",
		    &r->nneighbourhoods);
		r->rooms = get_list(c, a, "room", &r->nrooms);
		r->rules = get_list(c, a, "rule", &r->nrules);
		parse_route_time(c, a, r);
		urg = get_list(c, a, "network", &nurg);
		for (size_t j = 0; j < nurg; j++) {
			if (strcmp(urg[j], "xmpp") == 0)
				r->networks |= 1u << NET_XMPP;
			else if (strcmp(urg[j], "matrix") == 0)
				r->networks |= 1u << NET_MATRIX;
			else
				err(c, ymap_get(a, "network"), "route: unknown "
				    "network '%s' (xmpp, matrix)", urg[j]);
		}
		free_list(urg, nurg);
		if (ymap_get(a, "desk") == NULL)
			err(c, a, "route: 'desk' is required (use [] to "
			    "forward nowhere)");
		r->desks = get_list(c, a, "desk", &r->ndesks);
		if ((v = ymap_get(a, "continue")) != NULL)
			ynode_bool(v, c->file, &r->cont, c->d);
	}
}

/* DESIGN.md's default routes, for a config without routes. */
static void
default_routes(struct config *cfg)
{
	static const struct {
		const char *cats;
		unsigned urg;
		const char *desk;
	} defs[] = {
		{ "inbraak diefstal verdacht geweld brand vermist verkeer "
		    "sociaal", 1u << URG_SPOED, "politie-spoed" },
		{ "inbraak diefstal verdacht geweld vermist verkeer",
		    1u << URG_NORMAAL, "politie" },
		{ "overlast vandalisme openbare-ruimte sociaal brand",
		    1u << URG_NORMAAL | 1u << URG_SPOED, "gemeente" },
	};

	cfg->routes = xcalloc(nitems(defs), sizeof(*cfg->routes));
	for (size_t i = 0; i < nitems(defs); i++) {
		struct cfg_route *r = &cfg->routes[cfg->nroutes++];
		char *cats = xstrdup(defs[i].cats), *save = NULL;

		for (char *t = strtok_r(cats, " ", &save); t;
		    t = strtok_r(NULL, " ", &save)) {
			r->categories = xrealloc(r->categories,
			    (r->ncategories + 1) * sizeof(char *));
			r->categories[r->ncategories++] = xstrdup(t);
		}
		free(cats);
		r->urgencies = defs[i].urg;
		r->desks = xcalloc(1, sizeof(char *));
		r->desks[0] = xstrdup(defs[i].desk);
		r->ndesks = 1;
	}
}

static void
check_refs(struct ctx *c, struct config *cfg, int routes_given)
{
	for (size_t i = 0; i < cfg->nxmpp + cfg->nmatrix; i++) {
		struct cfg_room *rooms = i < cfg->nxmpp ? cfg->xmpp[i].rooms :
		    cfg->matrix[i - cfg->nxmpp].rooms;
		size_t n = i < cfg->nxmpp ? cfg->xmpp[i].nrooms :
		    cfg->matrix[i - cfg->nxmpp].nrooms;

		for (size_t j = 0; j < n; j++)
			if (rooms[j].neighbourhood &&
			    !config_neighbourhood(cfg, rooms[j].neighbourhood))
				diag_error(c->d, c->file, rooms[j].line, 0,
				    "room '%s': unknown neighbourhood '%s'",
				    rooms[j].id, rooms[j].neighbourhood);
	}
	for (size_t i = 0; i < cfg->nroutes; i++) {
		struct cfg_route *r = &cfg->routes[i];

		for (size_t j = 0; j < r->ndesks; j++) {
			if (config_desk(cfg, r->desks[j]))
				continue;
			if (routes_given)
				diag_error(c->d, c->file, r->line, 0,
				    "route: unknown desk '%s'", r->desks[j]);
			else
				diag_warning(c->d, c->file, 0, 0, "no routes "
				    "given and desk '%s' of the default routes "
				    "is not configured: those reports stay "
				    "undelivered", r->desks[j]);
		}
		for (size_t j = 0; j < r->nneighbourhoods; j++)
			if (!config_neighbourhood(cfg, r->neighbourhoods[j]))
				diag_error(c->d, c->file, r->line, 0,
				    "route: unknown neighbourhood '%s'",
				    r->neighbourhoods[j]);
	}
	if (cfg->nxmpp + cfg->nmatrix == 0)
		diag_warning(c->d, c->file, 0, 0, "no xmpp or matrix account "
		    "configured: bartd will not see any chat");
}

struct config *
config_load(const char *path, struct diag *d)
{
	static const char *const keys[] = { "state_dir", "rules_dir",
	    "hmac_key_file", "retention_days", "log_level", "timezone",
	    "group_window", "room_reports_per_hour",
	    "xmpp", "matrix",
	    "neighbourhoods", "desks", "routes", NULL };
	struct config *cfg;
	struct ynode *root;
	const struct ynode *seq;
	struct ctx c;
	size_t nerr = d->nerrors;
	char *tmp, *s;

	c.file = path;
	c.d = d;
	tmp = xstrdup(path);
	c.dir = xstrdup(dirname(tmp));
	free(tmp);
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->file = xstrdup(path);
	if ((root = yaml_load_file(path, CONF_MAX_SIZE, d)) == NULL) {
		if (d->nerrors == nerr)
			diag_error(d, path, 0, 0, "configuration is empty");
		goto out;
	}
	if (root->type != YN_MAP) {
		err(&c, root, "the configuration must be a mapping of keys");
		goto out;
	}
	check_keys(&c, root, "the configuration", keys);
	if ((s = get_str(&c, root, "state_dir", 1, "configuration"))) {
		cfg->state_dir = resolve(&c, s);
		free(s);
	}
	if ((s = get_str(&c, root, "rules_dir", 1, "configuration"))) {
		cfg->rules_dir = resolve(&c, s);
		free(s);
	}
	if ((s = get_str(&c, root, "hmac_key_file", 1, "configuration"))) {
		char *p = resolve(&c, s);
		size_t len;
		cfg->hmac_key = read_file(p, 4096, &len);
		if (cfg->hmac_key == NULL)
			err(&c, ymap_get(root, "hmac_key_file"), "cannot read "
			    "HMAC key %s: %s", p, strerror(errno));
		else if (len < 16)
			err(&c, ymap_get(root, "hmac_key_file"), "HMAC key %s "
			    "is too short (at least 16 bytes; e.g. "
			    "head -c 32 /dev/urandom > FILE)", p);
		else
			cfg->hmac_keylen = len;
		free(p);
		free(s);
	}
	cfg->retention_days = get_int(&c, root, "retention_days", 1, 3650, 30);
	cfg->timezone = get_str(&c, root, "timezone", 0, "configuration");
	cfg->group_window = get_int(&c, root, "group_window", 0, 86400, 600);
	cfg->room_hourly_cap = get_int(&c, root, "room_reports_per_hour", 0,
	    100000, 30);
	cfg->log_level = LOG_LVL_INFO;
	if ((s = get_str(&c, root, "log_level", 0, "configuration"))) {
		static const char *lv[] = { "error", "warn", "info", "debug" };
		size_t i;
		for (i = 0; i < nitems(lv); i++)
			if (strcmp(s, lv[i]) == 0)
				cfg->log_level = (int)i;
		if (i == nitems(lv) && strcmp(s, lv[cfg->log_level]) != 0)
			err(&c, ymap_get(root, "log_level"), "log_level must "
			    "be error, warn, info or debug");
		free(s);
	}
	if ((seq = get_seq(&c, root, "neighbourhoods")))
		parse_neighbourhoods(&c, cfg, seq);
	if ((seq = get_seq(&c, root, "xmpp")))
		parse_xmpp(&c, cfg, seq);
	if ((seq = get_seq(&c, root, "matrix")))
		parse_matrix(&c, cfg, seq);
	if ((seq = get_seq(&c, root, "desks")))
		parse_desks(&c, cfg, seq);
	if ((seq = get_seq(&c, root, "routes")))
		parse_routes(&c, cfg, seq);
	else if (ymap_get(root, "routes") == NULL)
		default_routes(cfg);
	check_refs(&c, cfg, ymap_get(root, "routes") != NULL);
out:
	ynode_free(root);
	free(c.dir);
	if (d->nerrors > nerr) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
free_rooms(struct cfg_room *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].id);
		free(r[i].neighbourhood);
		free(r[i].nick);
	}
	free(r);
}

static void
free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nxmpp; i++) {
		struct cfg_xmpp *x = &c->xmpp[i];
		free(x->id);
		free(x->jid);
		free_secret(x->password);
		free(x->host);
		free(x->nick);
		free_rooms(x->rooms, x->nrooms);
	}
	free(c->xmpp);
	for (size_t i = 0; i < c->nmatrix; i++) {
		struct cfg_matrix *m = &c->matrix[i];
		free(m->id);
		free(m->homeserver);
		free(m->user);
		free_secret(m->password);
		free_secret(m->access_token);
		free_rooms(m->rooms, m->nrooms);
	}
	free(c->matrix);
	for (size_t i = 0; i < c->nneighbourhoods; i++) {
		free(c->neighbourhoods[i].id);
		free(c->neighbourhoods[i].name);
		free(c->neighbourhoods[i].cbs_code);
	}
	free(c->neighbourhoods);
	for (size_t i = 0; i < c->ndesks; i++) {
		free(c->desks[i].id);
		free(c->desks[i].name);
		free(c->desks[i].url);
		free_secret(c->desks[i].secret);
		free_secret(c->desks[i].api_key);
		for (size_t j = 0; j < c->desks[i].nservice_codes; j++) {
			free(c->desks[i].service_codes[j].category);
			free(c->desks[i].service_codes[j].code);
		}
		free(c->desks[i].service_codes);
		free(c->desks[i].jurisdiction_id);
		free(c->desks[i].from);
		free_list(c->desks[i].to, c->desks[i].nto);
		free(c->desks[i].username);
		free_secret(c->desks[i].password);
		free(c->desks[i].account);
		free(c->desks[i].room);
	}
	free(c->desks);
	for (size_t i = 0; i < c->nroutes; i++) {
		struct cfg_route *r = &c->routes[i];
		free_list(r->categories, r->ncategories);
		free_list(r->neighbourhoods, r->nneighbourhoods);
		free_list(r->rooms, r->nrooms);
		free_list(r->desks, r->ndesks);
		free_list(r->rules, r->nrules);
	}
	free(c->routes);
	if (c->hmac_key) {
		explicit_bzero(c->hmac_key, c->hmac_keylen);
		free(c->hmac_key);
	}
	free(c->timezone);
	free(c->state_dir);
	free(c->rules_dir);
	free(c->file);
	free(c);
}

const char *
desk_type_name(enum desk_type t)
{
	static const char *names[] = { "webhook", "open311", "email",
	    "xmpp-room", "matrix-room" };

	return (size_t)t < nitems(names) ? names[t] : "?";
}

const struct cfg_neighbourhood *
config_neighbourhood(const struct config *c, const char *id)
{
	for (size_t i = 0; i < c->nneighbourhoods; i++)
		if (c->neighbourhoods[i].id &&
		    strcmp(c->neighbourhoods[i].id, id) == 0)
			return &c->neighbourhoods[i];
	return NULL;
}

const struct cfg_desk *
config_desk(const struct config *c, const char *id)
{
	for (size_t i = 0; i < c->ndesks; i++)
		if (c->desks[i].id && strcmp(c->desks[i].id, id) == 0)
			return &c->desks[i];
	return NULL;
}

const struct cfg_room *
config_room(const struct config *c, int network, const char *account,
    const char *room)
{
	struct cfg_room *rooms = NULL;
	size_t n = 0;

	if (network == NET_XMPP) {
		for (size_t i = 0; i < c->nxmpp; i++)
			if (strcmp(c->xmpp[i].id, account) == 0) {
				rooms = c->xmpp[i].rooms;
				n = c->xmpp[i].nrooms;
			}
	} else {
		for (size_t i = 0; i < c->nmatrix; i++)
			if (strcmp(c->matrix[i].id, account) == 0) {
				rooms = c->matrix[i].rooms;
				n = c->matrix[i].nrooms;
			}
	}
	for (size_t i = 0; i < n; i++)
		if (rooms[i].id && strcasecmp(rooms[i].id, room) == 0)
			return &rooms[i];
	return NULL;
}
