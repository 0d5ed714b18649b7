/* bartctl_rules.c: `bartctl rules check|test|explain`, the moderators'
 * tools. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bartctl.h"
#include "log.h"
#include "normalise.h"
#include "rules.h"
#include "rules_model.h"
#include "util.h"

#define TEST_MAX_FILE	(64 * 1024 * 1024)
#define NCLASS		12	/* the categories and "geen" */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bartctl rules check DIR\n"
	    "       bartctl rules test [--json] [--require-targets] DIR FILE\n"
	    "       bartctl rules explain DIR TEXT\n"
	    "       bartctl rules learn [--min N] DIR FILE...\n");
}

/* The rule set of dir, diagnostics on stderr; caller frees with
 * ruleset_free. NULL on errors. */
static struct ruleset *
load(const char *dir)
{
	struct diag d = { 0 };
	struct ruleset *rs = ruleset_load(dir, &d);

	diag_print(&d, stderr);
	diag_free(&d);
	return rs;
}

static int
rules_check(const char *dir)
{
	struct diag d = { 0 };
	struct ruleset *rs;
	size_t nerr;

	if ((rs = load(dir)) == NULL)
		return 1;
	nerr = ruleset_check(rs, &d);
	diag_print(&d, stderr);
	printf("%zu rules, %zu errors, %zu warnings\n", ruleset_count(rs),
	    nerr, d.nwarnings);
	diag_free(&d);
	ruleset_free(rs);
	return nerr ? 1 : 0;
}

static int
class_index(const char *cat)
{
	if (cat == NULL)
		return NCLASS - 1;
	for (int i = 0; bart_categories[i]; i++)
		if (strcmp(bart_categories[i], cat) == 0)
			return i;
	return -1;
}

static const char *
class_name(int i)
{
	return i == NCLASS - 1 ? "geen" : bart_categories[i];
}

struct tally {
	size_t	conf[NCLASS][NCLASS];	/* [label][predicted] */
	size_t	fwd_tp, fwd_fp, fwd_fn;
	size_t	sp_tp, sp_fp, sp_fn;
	size_t	cat_ok, cat_n;
	size_t	n;
	struct buf wrong;
};

static double
ratio(size_t a, size_t b)
{
	return b ? (double)a / (double)b : 1.0;
}

static void
rules_string(const struct decision *dc, struct buf *b)
{
	for (size_t i = 0; i < dc->nhits; i++)
		buf_printf(b, "%s%s%s", i ? "," : "", dc->hits[i].id,
		    dc->hits[i].testing ? "(testing)" : "");
	if (dc->nhits == 0)
		buf_puts(b, "-");
}

static void
tally_add(struct tally *t, int lineno, int lcat, enum urgency lurg,
    const struct decision *dc, const char *text)
{
	int pcat = class_index(dc->category);
	int lf = lurg >= URG_NORMAAL, pf = dc->urgency >= URG_NORMAAL;

	t->n++;
	t->conf[lcat][pcat]++;
	t->fwd_tp += lf && pf;
	t->fwd_fp += !lf && pf;
	t->fwd_fn += lf && !pf;
	t->sp_tp += lurg == URG_SPOED && dc->urgency == URG_SPOED;
	t->sp_fp += lurg != URG_SPOED && dc->urgency == URG_SPOED;
	t->sp_fn += lurg == URG_SPOED && dc->urgency != URG_SPOED;
	if (lf) {
		t->cat_n++;
		t->cat_ok += pcat == lcat;
	}
	if (pcat != lcat || (lurg != dc->urgency && (lf || pf))) {
		buf_printf(&t->wrong, "  line %d: want %s/%s got %s/%s [",
		    lineno, class_name(lcat), urgency_name(lurg) ?
		    urgency_name(lurg) : "-", class_name(pcat),
		    urgency_name(dc->urgency) ? urgency_name(dc->urgency) : "-");
		rules_string(dc, &t->wrong);
		buf_printf(&t->wrong, "] %.100s\n", text);
	}
}

static int
tally_report(struct tally *t, FILE *fp, int require)
{
	double fp_ = ratio(t->fwd_tp, t->fwd_tp + t->fwd_fp);
	double fr = ratio(t->fwd_tp, t->fwd_tp + t->fwd_fn);
	double sp = ratio(t->sp_tp, t->sp_tp + t->sp_fp);
	double sr = ratio(t->sp_tp, t->sp_tp + t->sp_fn);
	double ca = ratio(t->cat_ok, t->cat_n);
	int ok;

	fprintf(fp, "labelled messages: %zu\n", t->n);
	fprintf(fp, "%-16s %9s %9s %7s\n", "category", "precision", "recall",
	    "support");
	for (int i = 0; i < NCLASS; i++) {
		size_t tp = t->conf[i][i], col = 0, row = 0;

		for (int j = 0; j < NCLASS; j++) {
			col += t->conf[j][i];
			row += t->conf[i][j];
		}
		if (row == 0 && col == 0)
			continue;
		fprintf(fp, "%-16s %9.3f %9.3f %7zu\n", class_name(i),
		    ratio(tp, col), ratio(tp, row), row);
	}
	fprintf(fp, "confusion (rows: label, columns: decision):\n%-16s",
	    "");
	for (int j = 0; j < NCLASS; j++)
		fprintf(fp, " %4.4s", class_name(j));
	fputc('\n', fp);
	for (int i = 0; i < NCLASS; i++) {
		fprintf(fp, "%-16s", class_name(i));
		for (int j = 0; j < NCLASS; j++)
			fprintf(fp, " %4zu", t->conf[i][j]);
		fputc('\n', fp);
	}
	fprintf(fp, "forwarded precision %.3f recall %.3f\n", fp_, fr);
	fprintf(fp, "spoed precision %.3f recall %.3f\n", sp, sr);
	fprintf(fp, "category correct %.3f of %zu forwarded\n", ca, t->cat_n);
	if (t->wrong.len)
		fprintf(fp, "misclassified:\n%s", t->wrong.data);
	ok = fp_ >= 0.95 && fr >= 0.95 && sr >= 0.95 && sp >= 0.85 &&
	    ca >= 0.90;
	if (require)
		fprintf(fp, "targets (forwarded P,R >= 0.95, spoed R >= 0.95, "
		    "spoed P >= 0.85, category >= 0.90): %s\n",
		    ok ? "met" : "NOT MET");
	return ok;
}

/* Splits "category<TAB>urgency<TAB>text"; 1 if labelled. */
static int
parse_label(char *line, int *cat, enum urgency *urg, char **text)
{
	char *t1 = strchr(line, '\t'), *t2;

	if (t1 == NULL || (t2 = strchr(t1 + 1, '\t')) == NULL)
		return 0;
	*t1 = *t2 = '\0';
	if (strcmp(line, "geen") == 0 || strcmp(line, "-") == 0)
		*cat = NCLASS - 1;
	else if ((*cat = class_index(line)) < 0)
		goto no;
	if (strcmp(t1 + 1, "-") == 0)
		*urg = URG_NONE;
	else if (urgency_parse(t1 + 1, urg) == -1)
		goto no;
	*text = t2 + 1;
	return 1;
no:
	*t1 = *t2 = '\t';
	return 0;
}

/* The next line of a message file from *pos (before end) that is neither
 * blank nor a # comment: NUL-terminated in place, a trailing CR removed,
 * *lineno its number. NULL at the end. */
static char *
next_line(char **pos, char *end, int *lineno)
{
	while (*pos < end) {
		char *line = *pos, *nl = memchr(line, '\n', (size_t)(end - line));
		size_t tl;

		(*lineno)++;
		if (nl != NULL) {
			*nl = '\0';
			*pos = nl + 1;
		} else
			*pos = end;
		tl = strlen(line);
		if (tl > 0 && line[tl - 1] == '\r')
			line[--tl] = '\0';
		if (tl > 0 && line[0] != '#')
			return line;
	}
	return NULL;
}

static int
rules_test(int json, int require, const char *dir, const char *file)
{
	struct ruleset *rs;
	struct tally t;
	char *data, *line, *pos;
	size_t len;
	int lineno = 0, ok;

	if ((rs = load(dir)) == NULL)
		return 1;
	if ((data = read_file(file, TEST_MAX_FILE, &len)) == NULL) {
		fprintf(stderr, "bartctl: %s: %s\n", file, strerror(errno));
		ruleset_free(rs);
		return 1;
	}
	memset(&t, 0, sizeof(t));
	pos = data;
	while ((line = next_line(&pos, data + len, &lineno)) != NULL) {
		struct decision dc;
		enum urgency urg = URG_NONE;
		int cat = -1, labelled;
		char *text = line;

		labelled = parse_label(line, &cat, &urg, &text);
		if (ruleset_decide(rs, text, strlen(text), &dc) == -1) {
			fprintf(stderr, "bartctl: line %d: decision failed\n",
			    lineno);
			continue;
		}
		if (json) {
			json_t *o, *ids = json_array();

			for (size_t i = 0; i < dc.nhits; i++)
				json_array_append_new(ids,
				    json_string(dc.hits[i].id));
			o = json_object();
			json_object_set_new(o, "line", json_integer(lineno));
			json_object_set_new(o, "category", dc.category ?
			    json_string(dc.category) : json_null());
			json_object_set_new(o, "urgency", dc.category ?
			    json_string(urgency_name(dc.urgency)) :
			    json_null());
			json_object_set_new(o, "rules", ids);
			char *s = json_dumps(o, JSON_COMPACT |
			    JSON_PRESERVE_ORDER);
			printf("%s\n", s);
			free(s);
			json_decref(o);
		} else {
			struct buf b = { 0 };

			rules_string(&dc, &b);
			printf("%d\t%s\t%s\t%s\n", lineno, dc.category ?
			    dc.category : "-", dc.category ?
			    urgency_name(dc.urgency) : "-", b.data);
			buf_free(&b);
		}
		if (labelled)
			tally_add(&t, lineno, cat, urg, &dc, text);
		decision_clear(&dc);
	}
	fflush(stdout);
	ok = 1;
	if (t.n > 0)
		ok = tally_report(&t, json ? stderr : stdout, require);
	buf_free(&t.wrong);
	free(data);
	ruleset_free(rs);
	return require && (!ok || t.n == 0) ? 1 : 0;
}

struct explain_ctx {
	const char	*text;
	size_t		 len;
};

static void
explain_one(void *arg, const struct rule_explain *e)
{
	struct explain_ctx *x = arg;
	size_t at = 0;

	if (e->cue)
		printf("%s cue %s (%s)%s: %s\n", e->fired ? "FIRED" : "near ",
		    e->id, e->cue_effect, e->testing ? " [testing]" : "",
		    e->title);
	else
		printf("%s %s [%s %s %+d]%s: %s\n", e->fired ? "FIRED" :
		    "near ", e->id, e->category, urgency_name(e->urgency),
		    e->score, e->testing ? " [testing]" : "", e->title);
	fputs(e->why, stdout);
	if (e->nspans == 0)
		return;
	printf("    text: ");
	for (size_t i = 0; i < e->nspans; i++) {
		printf("%.*s[[%.*s]]", (int)(e->spans[i].start - at),
		    x->text + at, (int)(e->spans[i].end - e->spans[i].start),
		    x->text + e->spans[i].start);
		at = e->spans[i].end;
	}
	printf("%.*s\n", (int)(x->len - at), x->text + at);
}

static int
rules_explain(const char *dir, const char *text)
{
	struct ruleset *rs;
	struct decision dc;
	struct explain_ctx x;

	if ((rs = load(dir)) == NULL)
		return 1;
	x.text = text;
	x.len = strlen(text);
	if (x.len > 64 * 1024) {
		fprintf(stderr, "bartctl: text too long for explain\n");
		ruleset_free(rs);
		return 1;
	}
	if (ruleset_explain(rs, text, x.len, explain_one, &x, &dc) == -1) {
		ruleset_free(rs);
		return 1;
	}
	printf("normalised: %s\n", dc.excerpt);
	if (dc.category)
		printf("decision: %s %s (score %d, threshold %d)\n",
		    dc.category, urgency_name(dc.urgency), dc.score,
		    ruleset_threshold(rs));
	else
		printf("decision: none (no category reached threshold %d)\n",
		    ruleset_threshold(rs));
	decision_clear(&dc);
	ruleset_free(rs);
	return 0;
}

/* Learns the word model of dir from labelled files and writes it to
 * dir/woordmodel.tsv (through a temporary file: a reload never sees half
 * of it). An info line counts as geen: it is not forwarded. */
static int
rules_learn(unsigned min, const char *dir, char **files, int nfiles)
{
	struct ruleset *rs;
	struct wm_learner *l;
	struct normtext nt;
	unsigned long n = 0, skipped = 0;
	char *path, *tmp, *comment;
	FILE *fp;
	int rc = 1;

	if ((rs = load(dir)) == NULL)
		return 1;
	l = wm_learner_new();
	normtext_init(&nt);
	for (int f = 0; f < nfiles; f++) {
		char *data, *line, *pos;
		size_t len;
		int lineno = 0;

		if ((data = read_file(files[f], TEST_MAX_FILE, &len)) == NULL) {
			fprintf(stderr, "bartctl: %s: %s\n", files[f],
			    strerror(errno));
			goto out;
		}
		pos = data;
		while ((line = next_line(&pos, data + len, &lineno)) != NULL) {
			enum urgency urg = URG_NONE;
			int cat;
			char *text;

			if (!parse_label(line, &cat, &urg, &text)) {
				fprintf(stderr, "%s:%d: not a labelled line "
				    "(category<TAB>urgency<TAB>text); "
				    "skipped\n", files[f], lineno);
				skipped++;
				continue;
			}
			if (cat == NCLASS - 1 || urg == URG_INFO)
				cat = WM_GEEN;
			ruleset_normalise(rs, text, strlen(text), &nt);
			wm_learner_add(l, &nt, cat);
			n++;
		}
		free(data);
	}
	if (n == 0) {
		fprintf(stderr, "bartctl: no labelled messages\n");
		goto out;
	}
	path = xasprintf("%s/woordmodel.tsv", dir);
	tmp = xasprintf("%s.tmp", path);
	comment = xasprintf("Learned by `bartctl rules learn` from %lu "
	    "labelled messages; features in fewer than %u of them left out.",
	    n, min);
	if ((fp = fopen(tmp, "w")) == NULL ||
	    wm_learner_write(l, fp, min, comment) != 0 ||
	    fclose(fp) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "bartctl: %s: %s\n", path, strerror(errno));
		(void)unlink(tmp);
	} else {
		printf("%s: learned from %lu messages (%lu lines skipped)\n",
		    path, n, skipped);
		rc = 0;
	}
	free(comment);
	free(tmp);
	free(path);
out:
	normtext_free(&nt);
	wm_learner_free(l);
	ruleset_free(rs);
	return rc;
}

int
cmd_rules(int argc, char **argv)
{
	int json = 0, require = 0, i;

	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "check") == 0 && argc == 3)
		return rules_check(argv[2]);
	if (strcmp(argv[1], "explain") == 0 && argc == 4)
		return rules_explain(argv[2], argv[3]);
	if (strcmp(argv[1], "learn") == 0) {
		unsigned min = 2;

		i = 2;
		if (argc > 3 && strcmp(argv[2], "--min") == 0) {
			char *end;
			long v = strtol(argv[3], &end, 10);

			if (*end != '\0' || v < 1 || v > 1000) {
				usage();
				return 2;
			}
			min = (unsigned)v;
			i = 4;
		}
		if (argc - i >= 2)
			return rules_learn(min, argv[i], argv + i + 1,
			    argc - i - 1);
	}
	if (strcmp(argv[1], "test") == 0) {
		for (i = 2; i < argc && argv[i][0] == '-'; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = 1;
			else if (strcmp(argv[i], "--require-targets") == 0)
				require = 1;
			else {
				usage();
				return 2;
			}
		}
		if (argc - i == 2)
			return rules_test(json, require, argv[i], argv[i + 1]);
	}
	usage();
	return 2;
}
