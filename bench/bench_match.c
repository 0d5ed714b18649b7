/* bench_match.c: throughput of the rule engine (normalise + match +
 * decide, through the public API of rules.h), single-threaded, beside a
 * plain PCRE2-JIT loop over the same rules' patterns.
 *
 *   bench_match [-tw] [-s SECONDS] [-p PATTERNS] RULESDIR MESSAGES
 *
 * MESSAGES holds one chat message a line. PATTERNS (from gen_rules.py)
 * holds one PCRE2 pattern a line; without -p the baseline is skipped.
 * -w times every message on its own and prints the slowest (for the
 * pathological-regex check). -t calls malloc_trim(0) after loading and
 * reports the RSS before and after (a diagnostic; not the default). The last line of output is machine readable:
 *   RESULT rules=N msgs=N load_ms=F rss_mib=F run_rss_mib=F hwm_mib=F
 *          ruleset_mib=F bart_mps=F bart_matched=F pcre2_mps=F
 *          pcre2_matched=F
 * (rss_mib: VmRSS after load; run_rss_mib: after the engine run; hwm_mib:
 * VmHWM, the peak, load included; ruleset_mib: VmRSS growth over load)
 * (pcre2_* are -1 when skipped). msgs/s is per CPU second of this
 * process (one thread), so other load on the machine counts less, and the
 * best of 3 rounds of SECONDS/3 each. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <malloc.h>
#include <pcre2.h>

#include "log.h"
#include "rules.h"
#include "util.h"

#define BENCH_MAX_INPUT	(256u * 1024 * 1024)

struct msgs {
	const char	**text;
	size_t		 *len;
	size_t		  n;
	size_t		  bytes;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A field of /proc/self/status in KiB, or -1. */
static long
proc_status_kib(const char *field)
{
	FILE	*fp;
	char	 line[256];
	size_t	 flen = strlen(field);
	long	 v = -1;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return v;
}

/* CPU time of this process: on a shared machine, time spent waiting for
 * a core is not counted, so msgs/s is per core actually used. */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
mib(long kib)
{
	return kib < 0 ? -1 : kib / 1024.0;
}

/* Splits data (owned by the caller, kept alive) into lines; empty lines
 * are skipped. */
static void
split_lines(char *data, size_t len, struct msgs *m)
{
	size_t	 cap = 1024, i = 0;

	m->text = xcalloc(cap, sizeof(*m->text));
	m->len = xcalloc(cap, sizeof(*m->len));
	m->n = m->bytes = 0;
	while (i < len) {
		char	*nl = memchr(data + i, '\n', len - i);
		size_t	 end = nl ? (size_t)(nl - data) : len;

		if (end > i) {
			if (m->n == cap) {
				cap *= 2;
				m->text = xrealloc(m->text, cap * sizeof(*m->text));
				m->len = xrealloc(m->len, cap * sizeof(*m->len));
			}
			m->text[m->n] = data + i;
			m->len[m->n] = end - i;
			m->bytes += end - i;
			m->n++;
		}
		data[end < len ? end : len] = '\0';
		i = end + 1;
	}
}

/* ---- the engine ---------------------------------------------------- */

/* Runs every message through ruleset_decide until at least secs have
 * passed (after a short warm-up). Returns messages per second; *matched
 * gets the fraction of messages with a category. */
static double
bench_engine(const struct ruleset *rs, const struct msgs *m, double secs,
    double *matched)
{
	struct decision	 d;
	size_t		 i, n = 0, hit = 0, errs = 0;
	double		 t0, t, c0, c;

	/* Warm-up: one pass, or 0.3 s, whichever comes first. */
	t0 = now_s();
	for (i = 0; i < m->n; i++) {
		memset(&d, 0, sizeof(d));
		ruleset_decide(rs, m->text[i], m->len[i], &d);
		decision_clear(&d);
		if ((i & 63) == 63 && now_s() - t0 > 0.3)
			break;
	}

	t0 = now_s();
	c0 = cpu_s();
	for (;;) {
		for (i = 0; i < m->n; i++) {
			memset(&d, 0, sizeof(d));
			if (ruleset_decide(rs, m->text[i], m->len[i], &d) == -1)
				errs++;
			if (d.category != NULL)
				hit++;
			decision_clear(&d);
			n++;
			if ((n & 63) == 0 && now_s() - t0 >= secs)
				goto done;
		}
	}
done:
	c = cpu_s() - c0;
	t = now_s() - t0;
	if (errs > 0)
		printf("  engine: %zu internal errors\n", errs);
	printf("  engine: %zu decisions in %.2f s CPU, %.2f s wall "
	    "(%.0f msgs/s wall)\n", n, c, t, n / t);
	*matched = (double)hit / n;
	return n / c;
}

struct patterns {
	pcre2_code	**code;
	size_t		  n;
};

/* Seconds to run one message through every pattern (PCRE2 defaults:
 * match limit 10,000,000, no heap/depth limit beyond the defaults). */
static double
pcre2_one(const struct patterns *p, const char *text, size_t len, int *rc)
{
	pcre2_match_data	*md = pcre2_match_data_create(16, NULL);
	double			 t0 = cpu_s();
	size_t			 j;

	*rc = PCRE2_ERROR_NOMATCH;
	for (j = 0; j < p->n; j++) {
		int r = pcre2_match(p->code[j], (PCRE2_SPTR)text, len, 0,
		    PCRE2_NO_UTF_CHECK, md, NULL);

		if (r >= 0 || (r != PCRE2_ERROR_NOMATCH && *rc < 0))
			*rc = r;
	}
	t0 = cpu_s() - t0;
	pcre2_match_data_free(md);
	return t0;
}

/* Times each message alone (CPU time, best of 3 runs) and prints the
 * slowest; with p, also the plain PCRE2 loop over the same message. */
static void
worst_case(const struct ruleset *rs, const struct msgs *m,
    const struct patterns *p)
{
	struct decision	 d;
	size_t		 i, worst = 0;
	int		 r;
	double		 maxt = 0, sum = 0, pmax = 0;

	printf("  per-message time (best of 3), bart%s:\n",
	    p ? " | plain PCRE2 loop (default limits)" : "");
	for (i = 0; i < m->n; i++) {
		double		 best = 1e9, pt = 0;
		const char	*ps = "";
		int		 prc;

		if (p != NULL) {
			pt = pcre2_one(p, m->text[i], m->len[i], &prc);
			if (pt > pmax)
				pmax = pt;
			ps = prc >= 0 ? "match" : prc == PCRE2_ERROR_NOMATCH ?
			    "no match" : prc == PCRE2_ERROR_MATCHLIMIT ?
			    "match limit" : prc == PCRE2_ERROR_JIT_STACKLIMIT ?
			    "JIT stack limit" : "error";
		}

		for (r = 0; r < 3; r++) {
			double t0 = cpu_s(), t;

			memset(&d, 0, sizeof(d));
			ruleset_decide(rs, m->text[i], m->len[i], &d);
			t = cpu_s() - t0;
			if (r == 2 && p != NULL)
				printf("  %8.1f us | %10.1f us %-15s len %5zu "
				    "%-8s %.24s\n", (t < best ? t : best) * 1e6,
				    pt * 1e6, ps, m->len[i],
				    d.category ? d.category : "-", m->text[i]);
			else if (r == 2)
				printf("  %8.1f us  len %5zu  %-8s %.24s\n",
				    (t < best ? t : best) * 1e6, m->len[i],
				    d.category ? d.category : "-", m->text[i]);
			decision_clear(&d);
			if (t < best)
				best = t;
		}
		sum += best;
		if (best > maxt) {
			maxt = best;
			worst = i;
		}
	}
	printf("  WORST bart %.1f us/message (len %zu), mean %.1f us\n",
	    maxt * 1e6, m->n ? m->len[worst] : 0,
	    m->n ? sum / m->n * 1e6 : 0);
	if (p != NULL)
		printf("  WORST plain PCRE2 loop %.1f us/message\n", pmax * 1e6);
}

/* ---- baseline: every message through every compiled pattern --------- */

static int
load_patterns(const char *path, struct patterns *p)
{
	char		*data;
	size_t		 len, i;
	struct msgs	 lines;

	if ((data = read_file(path, BENCH_MAX_INPUT, &len)) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	split_lines(data, len, &lines);
	p->code = xcalloc(lines.n ? lines.n : 1, sizeof(*p->code));
	p->n = 0;
	for (i = 0; i < lines.n; i++) {
		int		 err;
		PCRE2_SIZE	 off;
		pcre2_code	*c;

		c = pcre2_compile((PCRE2_SPTR)lines.text[i], lines.len[i],
		    PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &err, &off, NULL);
		if (c == NULL) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(err, msg, sizeof(msg));
			log_warnx("%s:%zu:%zu: %s", path, i + 1, (size_t)off + 1,
			    (char *)msg);
			continue;
		}
		if (pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) != 0)
			log_warnx("%s:%zu: no JIT", path, i + 1);
		p->code[p->n++] = c;
	}
	free(lines.text);
	free(lines.len);
	free(data);
	return 0;
}

static double
bench_pcre2(const struct patterns *p, const struct msgs *m, double secs,
    double *matched)
{
	pcre2_match_data	*md;
	size_t			 i, j, n = 0, hit = 0;
	double			 t0, t, c0, c;

	md = pcre2_match_data_create(16, NULL);
	t0 = now_s();
	c0 = cpu_s();
	for (;;) {
		for (i = 0; i < m->n; i++) {
			int any = 0;

			for (j = 0; j < p->n; j++) {
				if (pcre2_match(p->code[j],
				    (PCRE2_SPTR)m->text[i], m->len[i], 0,
				    PCRE2_NO_UTF_CHECK, md, NULL) >= 0)
					any = 1;
			}
			hit += any;
			n++;
			if ((n & 15) == 0 && now_s() - t0 >= secs)
				goto done;
		}
	}
done:
	c = cpu_s() - c0;
	t = now_s() - t0;
	pcre2_match_data_free(md);
	printf("  pcre2: %zu messages in %.2f s CPU, %.2f s wall "
	    "(%.0f msgs/s wall)\n", n, c, t, n / t);
	*matched = (double)hit / n;
	return n / c;
}

/* The machine may be shared: run ROUNDS rounds of secs/ROUNDS each and
 * keep the best (CPU time already leaves out waiting for a core, but not
 * caches shared with whatever else runs). */
#define ROUNDS	3

static double
best_engine(const struct ruleset *rs, const struct msgs *m, double secs,
    double *matched)
{
	double best = 0, r;
	int i;

	for (i = 0; i < ROUNDS; i++)
		if ((r = bench_engine(rs, m, secs / ROUNDS, matched)) > best)
			best = r;
	return best;
}

static double
best_pcre2(const struct patterns *p, const struct msgs *m, double secs,
    double *matched)
{
	double best = 0, r;
	int i;

	for (i = 0; i < ROUNDS; i++)
		if ((r = bench_pcre2(p, m, secs / ROUNDS, matched)) > best)
			best = r;
	return best;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_match [-tw] [-s seconds] [-p patterns] "
	    "rulesdir messages\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct diag	 dg;
	struct ruleset	*rs;
	struct msgs	 m;
	struct patterns	 pats;
	const char	*patfile = NULL;
	char		*data;
	size_t		 len, i;
	double		 secs = 2.5, t0, load_ms, bart_mps, bart_hit;
	double		 pcre_mps = -1, pcre_hit = -1;
	long		 rss0, rss1, rss2, hwm;
	int		 ch, worst = 0, trim = 0;

	log_init("bench_match", LOG_LVL_WARN);
	while ((ch = getopt(argc, argv, "p:s:tw")) != -1) {
		switch (ch) {
		case 't':
			trim = 1;
			break;
		case 'p':
			patfile = optarg;
			break;
		case 's':
			secs = strtod(optarg, NULL);
			if (secs <= 0)
				usage();
			break;
		case 'w':
			worst = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();

	if ((data = read_file(argv[1], BENCH_MAX_INPUT, &len)) == NULL)
		fatal("%s", argv[1]);
	split_lines(data, len, &m);
	for (i = 0; i < m.n; i++)
		if (!utf8_valid(m.text[i], m.len[i]))
			fatalx("%s: line %zu is not UTF-8", argv[1], i + 1);
	printf("messages: %zu (%.1f bytes average) from %s\n", m.n,
	    m.n ? (double)m.bytes / m.n : 0, argv[1]);
	if (m.n == 0)
		fatalx("no messages");

	memset(&dg, 0, sizeof(dg));
	rss0 = proc_status_kib("VmRSS");
	t0 = now_s();
	rs = ruleset_load(argv[0], &dg);
	load_ms = (now_s() - t0) * 1e3;
	rss1 = proc_status_kib("VmRSS");
	if (rs == NULL) {
		diag_print(&dg, stderr);
		printf("ruleset_load %s failed after %.1f ms (%zu errors)\n",
		    argv[0], load_ms, dg.nerrors);
		printf("RESULT rules=0 load_failed=1\n");
		return 1;
	}
	printf("rules: %zu loaded from %s in %.1f ms (%zu warnings)\n",
	    ruleset_count(rs), argv[0], load_ms, dg.nwarnings);
	diag_free(&dg);
	if (trim) {
		/* Diagnostic: how much of the RSS is heap that loading freed
		 * but glibc kept (YAML trees, build-time arrays). */
		malloc_trim(0);
		printf("  RSS after load %.1f MiB, after malloc_trim %.1f MiB\n",
		    mib(rss1), mib(proc_status_kib("VmRSS")));
		rss1 = proc_status_kib("VmRSS");
	}

	if (worst) {
		int havep = patfile != NULL && load_patterns(patfile, &pats) == 0;

		worst_case(rs, &m, havep ? &pats : NULL);
		hwm = proc_status_kib("VmHWM");
		printf("RESULT rules=%zu msgs=%zu load_ms=%.1f hwm_mib=%.1f\n",
		    ruleset_count(rs), m.n, load_ms, mib(hwm));
		ruleset_free(rs);
		return 0;
	}

	bart_mps = best_engine(rs, &m, secs, &bart_hit);
	hwm = proc_status_kib("VmHWM");
	rss2 = proc_status_kib("VmRSS");
	printf("bart:  %12.0f msgs/s  (%.1f%% of messages got a category)\n",
	    bart_mps, bart_hit * 100);
	printf("       RSS after load %.1f MiB (ruleset %.1f MiB), after the "
	    "run %.1f MiB, peak %.1f MiB\n", mib(rss1), mib(rss1) - mib(rss0),
	    mib(rss2), mib(hwm));
	/* The baseline runs after the engine's memory was measured. */
	if (patfile != NULL && load_patterns(patfile, &pats) == 0) {
		pcre_mps = best_pcre2(&pats, &m, secs, &pcre_hit);
		printf("pcre2: %12.0f msgs/s  (%zu patterns; %.1f%% of "
		    "messages matched any)\n", pcre_mps, pats.n,
		    pcre_hit * 100);
		for (i = 0; i < pats.n; i++)
			pcre2_code_free(pats.code[i]);
		free(pats.code);
	}
	printf("RESULT rules=%zu msgs=%zu load_ms=%.1f rss_mib=%.1f "
	    "run_rss_mib=%.1f hwm_mib=%.1f ruleset_mib=%.1f bart_mps=%.0f "
	    "bart_matched=%.4f pcre2_mps=%.0f pcre2_matched=%.4f\n",
	    ruleset_count(rs), m.n, load_ms, mib(rss1), mib(rss2), mib(hwm),
	    mib(rss1) - mib(rss0), bart_mps, bart_hit, pcre_mps, pcre_hit);
	ruleset_free(rs);
	free(m.text);
	free(m.len);
	free(data);
	return 0;
}
