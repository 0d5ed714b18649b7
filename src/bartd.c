/* bartd.c: the daemon. Threads: one per chat account (connectors), the
 * core (this main thread: rules, reports, store), delivery, control. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <strophe.h>

#include "conf.h"
#include "connector.h"
#include "control.h"
#include "deliver.h"
#include "log.h"
#include "pipeline.h"
#include "queue.h"
#include "rules.h"
#include "store.h"
#include "util.h"

#define INBOX_CAP		256
#define EXPIRE_EVERY_MS		(3600 * 1000)

static atomic_int stopping;
static atomic_int reload_asked;

struct core {
	const struct config	*cfg;
	struct ruleset		*rs;
	pthread_mutex_t		 rs_mtx;	/* guards rs for stats */
	struct store		*st;
	struct queue		*inbox;
	struct deliver_env	 denv;
	uint64_t		 processed, reports, duplicates;
	int64_t			 started;
};

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_store(&reload_asked, 1);
	else
		atomic_store(&stopping, 1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bartd [-dn] -c FILE\n"
	    "  -c FILE  configuration file\n"
	    "  -n       check the configuration and rules, then exit\n"
	    "  -d       debug logging\n");
	exit(2);
}

/* Loads the rules of cfg; errors to stderr. NULL on error. */
static struct ruleset *
load_rules(const struct config *cfg, int quiet_ok)
{
	struct diag d = { 0 };
	struct ruleset *rs = ruleset_load(cfg->rules_dir, &d);

	if (d.n && (!quiet_ok || d.nerrors))
		diag_print(&d, stderr);
	diag_free(&d);
	return rs;
}

struct idcheck {
	const char	*id;
	int		 found;
};

static void
idcheck_fn(void *arg, const char *id, const char *status, uint64_t hits)
{
	struct idcheck *ic = arg;

	(void)status;
	(void)hits;
	if (strcmp(ic->id, id) == 0)
		ic->found = 1;
}

/* Warns about routes naming rules that are not in the rule set. */
static void
check_route_rules(const struct config *cfg, const struct ruleset *rs)
{
	for (size_t i = 0; i < cfg->nroutes; i++)
		for (size_t j = 0; j < cfg->routes[i].nrules; j++) {
			struct idcheck ic = { cfg->routes[i].rules[j], 0 };
			ruleset_foreach_stat(rs, idcheck_fn, &ic);
			if (!ic.found)
				fprintf(stderr, "%s:%d: warning: route names "
				    "rule '%s', which is not in %s\n",
				    cfg->file, cfg->routes[i].line, ic.id,
				    cfg->rules_dir);
		}
}

static void
reload_rules(struct core *c)
{
	struct ruleset *rs, *old;
	struct diag d = { 0 };

	log_info("reloading rules from %s", c->cfg->rules_dir);
	rs = ruleset_load(c->cfg->rules_dir, &d);
	for (size_t i = 0; i < d.n; i++)
		log_warnx("%s", d.msgs[i]);
	diag_free(&d);
	if (rs == NULL) {
		log_warnx("reload failed: keeping the %zu rules in use",
		    ruleset_count(c->rs));
		return;
	}
	pthread_mutex_lock(&c->rs_mtx);
	old = c->rs;
	c->rs = rs;
	pthread_mutex_unlock(&c->rs_mtx);
	ruleset_free(old);
	log_info("reloaded: %zu rules active", ruleset_count(rs));
}

struct stat_out {
	int fd;
};

static void
stat_line(void *arg, const char *id, const char *status, uint64_t hits)
{
	struct stat_out *o = arg;

	dprintf(o->fd, "%-40s %-8s %llu\n", id, status,
	    (unsigned long long)hits);
}

/* Control socket answers (control thread). */
static int
answer(void *arg, const char *cmd, int fd)
{
	struct core *c = arg;

	if (strcmp(cmd, "reload") == 0) {
		atomic_store(&reload_asked, 1);
		dprintf(fd, "reload requested; see the log for the result\n");
		return 0;
	}
	if (strcmp(cmd, "stats") == 0) {
		struct stat_out o = { fd };
		pthread_mutex_lock(&c->rs_mtx);
		dprintf(fd, "%-40s %-8s %s\n", "rule", "status", "hits");
		ruleset_foreach_stat(c->rs, stat_line, &o);
		pthread_mutex_unlock(&c->rs_mtx);
		return 0;
	}
	if (strcmp(cmd, "status") == 0) {
		dprintf(fd, "up %lld s, %llu messages, %llu reports, %llu "
		    "duplicates skipped, %zu queued, %zu rules\n",
		    (long long)((mono_ms() - c->started) / 1000),
		    (unsigned long long)c->processed,
		    (unsigned long long)c->reports,
		    (unsigned long long)c->duplicates, queue_len(c->inbox),
		    ruleset_count(c->rs));
		return 0;
	}
	return -1;
}

/* Commits one message, retrying while the store fails (back-pressure:
 * nothing is lost, the position does not move). */
static void
process(struct core *c, struct message *m)
{
	struct pipeline_result res;
	int attempt = 0;

	while (pipeline_process(c->cfg, c->rs, c->st, m, now_ms(),
	    &res) == -1) {
		int64_t delay = backoff_ms(attempt++, 100, 10000);
		log_warnx("store: cannot commit a message from %s; retrying "
		    "in %lld ms", m->room, (long long)delay);
		if (atomic_load(&stopping))
			return;
		usleep((useconds_t)delay * 1000);
	}
	if (m->text)
		c->processed++;
	c->duplicates += (uint64_t)res.duplicate;
	c->reports += (uint64_t)res.reports;
	if (res.deliveries > 0)
		deliver_wake(&c->denv);
}

int
main(int argc, char **argv)
{
	const char *cfgfile = NULL;
	int ch, configtest = 0, debug = 0;
	struct diag d = { 0 };
	struct config *cfg;
	struct core c;
	struct connector_env cenv;
	struct control_env ctl;
	struct xmpp_args *xargs;
	struct matrix_args *margs;
	pthread_t *threads, dthread, cthread;
	size_t nthreads = 0;
	char *dbpath, *err = NULL;
	int64_t last_expire = 0;
	struct sigaction sa;

	log_init("bartd", LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "c:dn")) != -1) {
		switch (ch) {
		case 'c':
			cfgfile = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'n':
			configtest = 1;
			break;
		default:
			usage();
		}
	}
	if (cfgfile == NULL || optind != argc)
		usage();

	cfg = config_load(cfgfile, &d);
	diag_print(&d, stderr);
	diag_free(&d);
	if (cfg == NULL)
		return 1;
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	if ((c.rs = load_rules(cfg, !configtest)) == NULL) {
		config_free(cfg);
		return 1;
	}
	check_route_rules(cfg, c.rs);
	if (configtest) {
		printf("%s: configuration OK (%zu XMPP and %zu Matrix "
		    "accounts, %zu desks, %zu routes, %zu rules)\n", cfgfile,
		    cfg->nxmpp, cfg->nmatrix, cfg->ndesks, cfg->nroutes,
		    ruleset_count(c.rs));
		ruleset_free(c.rs);
		config_free(cfg);
		return 0;
	}
	log_setlevel(debug ? LOG_LVL_DEBUG : cfg->log_level);
	if (cfg->timezone) {
		/* Route time windows are in this zone. */
		setenv("TZ", cfg->timezone, 1);
		tzset();
	}

	if (mkdir_p(cfg->state_dir, 0700) == -1)
		fatal("state directory %s", cfg->state_dir);
	dbpath = xasprintf("%s/bart.db", cfg->state_dir);
	if ((c.st = store_open(dbpath, &err)) == NULL)
		fatalx("%s", err);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	xmpp_initialize();
	pthread_mutex_init(&c.rs_mtx, NULL);
	c.inbox = queue_new(INBOX_CAP);
	c.started = mono_ms();

	c.denv.cfg = cfg;
	c.denv.db_path = dbpath;
	c.denv.stopping = &stopping;
	if (pthread_create(&dthread, NULL, deliver_thread, &c.denv) != 0)
		fatalx("cannot start the delivery thread");

	memset(&ctl, 0, sizeof(ctl));
	ctl.path = xasprintf("%s/bartd.sock", cfg->state_dir);
	ctl.stopping = &stopping;
	ctl.reload = &reload_asked;
	ctl.answer = answer;
	ctl.arg = &c;
	if (pthread_create(&cthread, NULL, control_thread, &ctl) != 0)
		fatalx("cannot start the control thread");

	cenv.cfg = cfg;
	cenv.inbox = c.inbox;
	cenv.db_path = dbpath;
	cenv.stopping = &stopping;
	threads = xcalloc(cfg->nxmpp + cfg->nmatrix, sizeof(*threads));
	xargs = xcalloc(cfg->nxmpp, sizeof(*xargs));
	margs = xcalloc(cfg->nmatrix, sizeof(*margs));
	for (size_t i = 0; i < cfg->nxmpp; i++) {
		xargs[i].env = &cenv;
		xargs[i].acct = &cfg->xmpp[i];
		if (pthread_create(&threads[nthreads++], NULL, xmpp_thread,
		    &xargs[i]) != 0)
			fatalx("cannot start XMPP account %s", cfg->xmpp[i].id);
	}
	for (size_t i = 0; i < cfg->nmatrix; i++) {
		margs[i].env = &cenv;
		margs[i].acct = &cfg->matrix[i];
		if (pthread_create(&threads[nthreads++], NULL, matrix_thread,
		    &margs[i]) != 0)
			fatalx("cannot start Matrix account %s",
			    cfg->matrix[i].id);
	}
	log_info("bartd %s running: %zu rules, %zu XMPP and %zu Matrix "
	    "accounts, %zu desks", VERSION, ruleset_count(c.rs), cfg->nxmpp,
	    cfg->nmatrix, cfg->ndesks);

	while (!atomic_load(&stopping)) {
		struct message *m;

		if (atomic_exchange(&reload_asked, 0))
			reload_rules(&c);
		if (now_ms() - last_expire > EXPIRE_EVERY_MS) {
			last_expire = now_ms();
			store_expire(c.st, last_expire -
			    (int64_t)cfg->retention_days * 86400 * 1000);
		}
		if ((m = queue_pop(c.inbox, 200)) == NULL)
			continue;
		process(&c, m);
		message_free(m);
	}

	log_info("shutting down");
	queue_close(c.inbox);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	{
		/* Messages still queued are not committed: their positions
		 * were not either, so they are fetched again at start. */
		struct message *m;
		while ((m = queue_pop(c.inbox, 0)) != NULL)
			message_free(m);
	}
	deliver_wake(&c.denv);
	pthread_join(dthread, NULL);
	pthread_join(cthread, NULL);
	queue_free(c.inbox);
	store_close(c.st);
	ruleset_free(c.rs);
	pthread_mutex_destroy(&c.rs_mtx);
	xmpp_shutdown();
	curl_global_cleanup();
	free(threads);
	free(xargs);
	free(margs);
	free(ctl.path);
	free(dbpath);
	config_free(cfg);
	return 0;
}
