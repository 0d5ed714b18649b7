/* bartctl.c: the operator's and moderator's tool. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bartctl.h"
#include "conf.h"
#include "control.h"
#include "log.h"
#include "route.h"
#include "rules.h"
#include "store.h"
#include "util.h"

#define DEFAULT_CONFIG	"/etc/bart/bart.yaml"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bartctl rules check DIR\n"
	    "       bartctl rules test [--json] DIR FILE\n"
	    "       bartctl rules explain DIR TEXT\n"
	    "       bartctl rules learn [--min N] DIR FILE...\n"
	    "       bartctl [-c FILE] rules stats\n"
	    "       bartctl [-c FILE] reload | status | desks\n"
	    "       bartctl [-c FILE] outbox list [pending|held|delivered|dead"
	    "|dropped]\n"
	    "       bartctl [-c FILE] outbox retry ID|dead\n"
	    "       bartctl [-c FILE] outbox drop ID\n"
	    "       bartctl [-c FILE] route explain [--room ROOM] "
	    "[--network xmpp|matrix]\n"
	    "               [--at 2026-11-23T22:00:00Z] TEXT\n"
	    "The configuration is -c FILE, else $BART_CONFIG, else "
	    DEFAULT_CONFIG ".\n");
}

static struct config *
load_config(const char *file)
{
	struct diag d = { 0 };
	struct config *cfg;

	if (file == NULL)
		file = getenv("BART_CONFIG");
	if (file == NULL)
		file = DEFAULT_CONFIG;
	cfg = config_load(file, &d);
	if (d.nerrors)
		diag_print(&d, stderr);
	diag_free(&d);
	return cfg;
}

static struct store *
open_store(const struct config *cfg)
{
	char *path = xasprintf("%s/bart.db", cfg->state_dir), *err = NULL;
	struct store *st;

	if (access(path, F_OK) == -1) {
		fprintf(stderr, "bartctl: %s does not exist (has bartd run "
		    "yet?)\n", path);
		free(path);
		return NULL;
	}
	if ((st = store_open(path, &err)) == NULL) {
		fprintf(stderr, "bartctl: %s\n", err);
		free(err);
	}
	free(path);
	return st;
}

static int
control(const struct config *cfg, const char *cmd)
{
	char *path = xasprintf("%s/bartd.sock", cfg->state_dir);
	int rc = control_request(path, cmd);

	free(path);
	return rc;
}

static void
print_items(const struct outbox_item *it, int n)
{
	printf("%-6s %-36s %-16s %-8s %-9s %-8s %-20s %-12s %s\n", "id",
	    "report", "desk", "kind", "state", "attempts", "next attempt",
	    "desk's ref", "last error");
	for (int i = 0; i < n; i++) {
		char ts[40] = "-", kind[24];
		if (strcmp(it[i].state, "pending") == 0)
			fmt_time_ms(it[i].next_at, ts, sizeof(ts));
		if (it[i].version > 0)
			snprintf(kind, sizeof(kind), "update%d", it[i].version);
		else
			snprintf(kind, sizeof(kind), "new");
		printf("%-6lld %-36s %-16s %-8s %-9s %-8d %-20.20s %-12s %s\n",
		    (long long)it[i].id, it[i].report_id, it[i].desk, kind,
		    it[i].state, it[i].attempts, ts,
		    it[i].remote_ref ? it[i].remote_ref : "-",
		    it[i].last_error ? it[i].last_error : "");
	}
}

static int
cmd_outbox(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	struct outbox_item *items;
	int n, rc = 0;

	if (argc < 2) {
		usage();
		return 2;
	}
	if ((st = open_store(cfg)) == NULL)
		return 1;
	if (strcmp(argv[1], "list") == 0) {
		n = store_outbox_list(st, argc > 2 ? argv[2] : NULL, &items,
		    100000);
		if (n < 0)
			rc = 1;
		else {
			print_items(items, n);
			store_outbox_free(items, (size_t)n);
		}
	} else if (strcmp(argv[1], "retry") == 0 && argc == 3 &&
	    strcmp(argv[2], "dead") == 0) {
		n = store_outbox_list(st, "dead", &items, 100000);
		for (int i = 0; i < n; i++)
			store_outbox_set_retry(st, items[i].id, now_ms());
		printf("%d dead deliveries queued again\n", n < 0 ? 0 : n);
		if (n > 0)
			store_outbox_free(items, (size_t)n);
	} else if ((strcmp(argv[1], "retry") == 0 ||
	    strcmp(argv[1], "drop") == 0) && argc == 3) {
		char *end;
		long long id = strtoll(argv[2], &end, 10);
		if (*end || id <= 0) {
			fprintf(stderr, "bartctl: '%s' is not an outbox id\n",
			    argv[2]);
			rc = 1;
		} else {
			n = argv[1][0] == 'r' ? store_outbox_set_retry(st, id,
			    now_ms()) : store_outbox_drop(st, id);
			if (n != 1) {
				fprintf(stderr, "bartctl: no pending or dead "
				    "delivery with id %lld\n", id);
				rc = 1;
			} else
				printf("%s %lld\n", argv[1][0] == 'r' ?
				    "queued again:" : "dropped:", id);
		}
	} else {
		usage();
		rc = 2;
	}
	store_close(st);
	return rc;
}

/* Per desk: what was delivered, what waits, what is dead, and its health
 * (consecutive failed attempts of the oldest waiting report, next try). */
static int
cmd_desks(const struct config *cfg)
{
	struct store *st = open_store(cfg);
	struct outbox_item *items;
	int n;

	if (st == NULL)
		return 1;
	n = store_outbox_list(st, NULL, &items, 1000000);
	if (n < 0) {
		store_close(st);
		return 1;
	}
	printf("%-16s %-12s %9s %7s %4s %4s %8s  %-20s %s\n", "desk", "type",
	    "delivered", "pending", "held", "dead", "failures", "next attempt",
	    "last error");
	for (size_t d = 0; d < cfg->ndesks; d++) {
		int del = 0, pend = 0, held = 0, dead = 0, fails = 0;
		int64_t next = -1;
		const char *lasterr = "";
		char ts[40] = "-";

		for (int i = 0; i < n; i++) {
			const struct outbox_item *it = &items[i];
			if (strcmp(it->desk, cfg->desks[d].id) != 0)
				continue;
			if (strcmp(it->state, "delivered") == 0)
				del++;
			else if (strcmp(it->state, "held") == 0)
				held++;
			else if (strcmp(it->state, "dead") == 0) {
				dead++;
				if (it->last_error)
					lasterr = it->last_error;
			} else if (strcmp(it->state, "pending") == 0) {
				pend++;
				if (it->attempts > fails)
					fails = it->attempts;
				if (next < 0 || it->next_at < next)
					next = it->next_at;
				if (it->last_error)
					lasterr = it->last_error;
			}
		}
		if (next >= 0)
			fmt_time_ms(next, ts, sizeof(ts));
		printf("%-16s %-12s %9d %7d %4d %4d %8d  %-20.20s %s\n",
		    cfg->desks[d].id, desk_type_name(cfg->desks[d].type), del,
		    pend, held, dead, fails, ts, lasterr);
	}
	store_outbox_free(items, (size_t)n);
	store_close(st);
	return 0;
}

/* Which route and desks a message would take, and why the other routes
 * did not match. */
static int
cmd_route(const struct config *cfg, int argc, char **argv)
{
	struct route_input in;
	struct decision d;
	struct diag dg = { 0 };
	struct ruleset *rs;
	const char *room = NULL, *text = NULL, *desks[16], **ids;
	const struct cfg_room *cr = NULL;
	int net = NET_XMPP, matched, i;
	int64_t at = now_ms();
	size_t n;

	if (argc < 2 || strcmp(argv[1], "explain") != 0) {
		usage();
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--room") == 0 && i + 1 < argc)
			room = argv[++i];
		else if (strcmp(argv[i], "--network") == 0 && i + 1 < argc)
			net = strcmp(argv[++i], "matrix") == 0 ? NET_MATRIX :
			    NET_XMPP;
		else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
			if ((at = parse_time_iso(argv[++i])) < 0) {
				fprintf(stderr, "bartctl: --at wants a time like "
				    "2026-11-23T22:00:00Z\n");
				return 2;
			}
		} else if (text == NULL)
			text = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (text == NULL) {
		usage();
		return 2;
	}
	if (cfg->timezone) {
		setenv("TZ", cfg->timezone, 1);
		tzset();
	}
	if ((rs = ruleset_load(cfg->rules_dir, &dg)) == NULL) {
		diag_print(&dg, stderr);
		diag_free(&dg);
		return 1;
	}
	diag_free(&dg);
	ruleset_decide(rs, text, strlen(text), &d);
	memset(&in, 0, sizeof(in));
	in.category = d.category;
	in.urgency = d.urgency;
	in.room = room;
	in.network = net;
	in.now = at;
	for (size_t a = 0; room && a < cfg->nxmpp + cfg->nmatrix && !cr; a++)
		cr = config_room(cfg, a < cfg->nxmpp ? NET_XMPP : NET_MATRIX,
		    a < cfg->nxmpp ? cfg->xmpp[a].id :
		    cfg->matrix[a - cfg->nxmpp].id, room);
	in.neighbourhood = cr ? cr->neighbourhood : NULL;
	ids = xcalloc(d.nhits, sizeof(*ids));
	for (size_t h = 0; h < d.nhits; h++)
		if (!d.hits[h].testing)
			ids[in.nrules++] = d.hits[h].id;
	in.rules = ids;
	printf("decision: %s / %s", d.category ? d.category : "(none)",
	    d.category ? urgency_name(d.urgency) : "-");
	for (size_t h = 0; h < in.nrules; h++)
		printf("%s%s", h ? ", " : " (rules: ", ids[h]);
	printf("%s\n", in.nrules ? ")" : "");
	if (room)
		printf("room: %s, neighbourhood: %s\n", room,
		    in.neighbourhood ? in.neighbourhood : "(not configured)");
	if (d.category == NULL) {
		printf("no category: not forwarded to any desk\n");
		goto out;
	}
	for (size_t r = 0; r < cfg->nroutes; r++) {
		const char *why = route_mismatch(&cfg->routes[r], &in);
		printf("route %zu (%s:%d): %s", r + 1, cfg->file,
		    cfg->routes[r].line, why ? why : "matches");
		if (!why) {
			printf(" -> ");
			for (size_t k = 0; k < cfg->routes[r].ndesks; k++)
				printf("%s%s", k ? ", " : "",
				    cfg->routes[r].desks[k]);
			if (cfg->routes[r].ndesks == 0)
				printf("(no desk)");
			if (cfg->routes[r].cont)
				printf(" (continue)");
		}
		printf("\n");
		if (!why && !cfg->routes[r].cont)
			break;
	}
	n = route_report(cfg, &in, desks, 16, &matched);
	printf("desks:");
	for (size_t k = 0; k < n; k++)
		printf(" %s", desks[k]);
	printf("%s\n", n ? "" : " none");
out:
	free(ids);
	decision_clear(&d);
	ruleset_free(rs);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cfgfile = NULL;
	struct config *cfg;
	int rc;

	log_init("bartctl", LOG_LVL_WARN);
	if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
		cfgfile = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "rules") == 0 &&
	    !(argc == 3 && strcmp(argv[2], "stats") == 0))
		return cmd_rules(argc - 1, argv + 1);
	if ((cfg = load_config(cfgfile)) == NULL)
		return 1;
	if (strcmp(argv[1], "rules") == 0)
		rc = control(cfg, "stats");
	else if (strcmp(argv[1], "reload") == 0 ||
	    strcmp(argv[1], "status") == 0)
		rc = control(cfg, argv[1]);
	else if (strcmp(argv[1], "outbox") == 0)
		rc = cmd_outbox(cfg, argc - 1, argv + 1);
	else if (strcmp(argv[1], "desks") == 0)
		rc = cmd_desks(cfg);
	else if (strcmp(argv[1], "route") == 0)
		rc = cmd_route(cfg, argc - 1, argv + 1);
	else {
		usage();
		rc = 2;
	}
	config_free(cfg);
	return rc;
}
