/* conf.h: the daemon's one configuration file (YAML; see
 * contrib/bart.yaml for a commented example). Unknown keys are errors. */
#ifndef BART_CONFIG_H
#define BART_CONFIG_H

#include <stddef.h>

#include "rules.h"
#include "util.h"

enum tls_mode { TLS_REQUIRED = 0, TLS_PLAINTEXT = 1 };

struct cfg_room {
	char	*id;		/* XMPP room JID; Matrix room id or alias */
	char	*neighbourhood;	/* id of a cfg_neighbourhood */
	char	*nick;		/* XMPP: nick in this room (default account's) */
	int	 desk;		/* a desk's room (desk: true): bart posts
				 * reports there; what people say there is
				 * never read as a resident's report */
	int	 line;
};

struct cfg_xmpp {
	char		*id;		/* account id (default: the JID) */
	char		*jid;
	char		*password;	/* loaded from password_file/_env */
	char		*host;		/* optional: connect here, not SRV */
	int		 port;		/* 0 = default */
	enum tls_mode	 tls;
	char		*nick;		/* default nick, "bart" */
	int		 ping_interval;	/* s between XEP-0199 pings, 20 */
	int		 ping_timeout;	/* s until a ping counts as lost, 20 */
	struct cfg_room	*rooms;
	size_t		 nrooms;
	int		 line;
};

struct cfg_matrix {
	char		*id;		/* account id (default: the user) */
	char		*homeserver;	/* base URL, e.g. https://matrix.org */
	char		*user;		/* @bart:example.org */
	char		*password;	/* loaded from password_file/_env */
	char		*access_token;	/* loaded from access_token_file/_env */
	int		 sync_timeout;	/* s of long-poll, 30 */
	struct cfg_room	*rooms;
	size_t		 nrooms;
	int		 line;
};

struct cfg_neighbourhood {
	char	*id;
	char	*name;
	char	*cbs_code;	/* optional CBS wijk/buurt code */
	int	 has_location;
	double	 lat, lon;
	int	 line;
};

enum desk_type { DESK_WEBHOOK = 0, DESK_OPEN311, DESK_EMAIL,
    DESK_XMPP_ROOM, DESK_MATRIX_ROOM };

/* open311: a category's GeoReport service_code. */
struct cfg_service_code {
	char	*category;	/* a category name, or "default" */
	char	*code;
};

struct cfg_desk {
	char		*id;
	char		*name;		/* shown in the room, default id */
	enum desk_type	 type;
	char		*url;		/* webhook: where to POST */
	char		*secret;	/* webhook: HMAC key for the signature
					 * header (optional, from a file) */
	int		 timeout;	/* s per attempt, 10 */
	int		 rate_per_minute; /* deliveries a minute, 0 = any;
					 * more wait (visible as pending) */
	int		 max_attempts;	/* 0 = retry forever (until dead-letter
					 * by a 4xx) */
	/* open311 (url is the endpoint base: POST {url}/requests.json) */
	char		*api_key;	/* from api_key_file/_env */
	struct cfg_service_code *service_codes; size_t nservice_codes;
	char		*jurisdiction_id; /* optional */
	/* email (url is smtp://host:port or smtps://host:port) */
	char		*from;
	char		**to;		size_t nto;
	char		*username;	/* optional SMTP AUTH */
	char		*password;	/* from password_file/_env */
	enum tls_mode	 tls;		/* smtp://: STARTTLS unless plaintext */
	/* xmpp-room / matrix-room */
	char		*account;	/* id of a configured account */
	char		*room;		/* one of its rooms, marked desk: true */
	int		 line;
};

/* One route: every non-empty matcher must match; first match wins unless
 * cont is set. */
struct cfg_route {
	char		**categories;	size_t ncategories;
	unsigned	  urgencies;	/* bit (1 << enum urgency); 0 = any */
	char		**neighbourhoods; size_t nneighbourhoods;
	char		**rooms;	size_t nrooms;
	unsigned	  networks;	/* bit (1 << enum network); 0 = any */
	char		**rules;	size_t nrules;	/* any of these fired */
	unsigned	  days;		/* bit 0 = Sunday .. 6; 0 = any */
	int		  from_min;	/* minutes after midnight, local; */
	int		  to_min;	/* from == to: all day; from > to wraps */
	char		**desks;	size_t ndesks;	/* empty = drop */
	int		  cont;
	int		  line;
};

struct config {
	char			*file;
	char			*state_dir;
	char			*rules_dir;
	char			*hmac_key;	/* loaded from hmac_key_file */
	size_t			 hmac_keylen;
	int			 retention_days; /* 30 */
	char			*timezone;	/* for route time windows; NULL =
						 * the system's */
	int			 group_window;	/* s: follow-ups in the same room
						 * and category merge into the
						 * report; 0 = never (600) */
	int			 room_hourly_cap; /* reports a room may send
						 * per hour; more are held for
						 * an operator (0 = no cap) */
	int			 log_level;
	struct cfg_xmpp		*xmpp;		size_t nxmpp;
	struct cfg_matrix	*matrix;	size_t nmatrix;
	struct cfg_neighbourhood *neighbourhoods; size_t nneighbourhoods;
	struct cfg_desk		*desks;		size_t ndesks;
	struct cfg_route	*routes;	size_t nroutes;
};

/* Loads and checks path. Relative paths inside are relative to the
 * config file's directory. Every problem goes to d as file:line: message;
 * returns NULL if there was any error. Caller frees with config_free. */
struct config *config_load(const char *path, struct diag *d);
void config_free(struct config *c);

const struct cfg_neighbourhood *config_neighbourhood(const struct config *c,
    const char *id);
/* "webhook", "open311", ... */
const char *desk_type_name(enum desk_type t);
const struct cfg_desk *config_desk(const struct config *c, const char *id);
/* The room entry for (network, account id, room), or NULL. */
const struct cfg_room *config_room(const struct config *c, int network,
    const char *account, const char *room);

#endif
