/* fuzz_wordmodel.c: the word model loader (rules/woordmodel.tsv, what
 * `bartctl rules learn` writes and an operator may edit) on arbitrary
 * bytes, then a decision with whatever loaded. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], path[96];
	static const char rule[] = "- id: brand-nu\n  category: brand\n"
	    "  urgency: spoed\n  keywords: [brand]\n";
	struct diag d = { 0 };
	struct ruleset *rs;
	struct decision dec;
	FILE *fp;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/bart-fuzz-model-%d",
		    (int)getpid());
		mkdir(dir, 0700);
		snprintf(path, sizeof(path), "%s/r.yaml", dir);
		if ((fp = fopen(path, "w")) == NULL)
			return 0;
		fputs(rule, fp);
		fclose(fp);
		snprintf(path, sizeof(path), "%s/woordmodel.tsv", dir);
	}
	if ((fp = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	if ((rs = ruleset_load(dir, &d)) != NULL) {
		static const char msg[] = "er is brand bij de buren, rook uit "
		    "het dak! fietsendief gezien bij de school";
		if (ruleset_decide(rs, msg, sizeof(msg) - 1, &dec) == 0)
			decision_clear(&dec);
		ruleset_free(rs);
	}
	diag_free(&d);
	return 0;
}
