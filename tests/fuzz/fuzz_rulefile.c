/* fuzz_rulefile.c: the rule loader and compiler on an arbitrary rule
 * file (what a moderator may write). */
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
	struct diag d = { 0 };
	struct ruleset *rs;
	struct decision dec;
	FILE *fp;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/bart-fuzz-rules-%d",
		    (int)getpid());
		mkdir(dir, 0700);
		snprintf(path, sizeof(path), "%s/fuzz.yaml", dir);
	}
	if ((fp = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	if ((rs = ruleset_load(dir, &d)) != NULL) {
		static const char msg[] = "er wordt nu ingebroken bij nr 12, "
		    "bel 112! lantaarnpaal kapot";
		if (ruleset_decide(rs, msg, sizeof(msg) - 1, &dec) == 0)
			decision_clear(&dec);
		ruleset_free(rs);
	}
	diag_free(&d);
	return 0;
}
