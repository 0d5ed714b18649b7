/* fuzz_decide.c: normalisation and matching of an arbitrary chat message
 * (what any resident, or a broken client, can send) with the default
 * Dutch rules. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ruleset *rs;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decision d;

	if (rs == NULL) {
		struct diag dg = { 0 };
		const char *dir = getenv("BART_FUZZ_RULES");
		rs = ruleset_load(dir ? dir : "rules", &dg);
		if (rs == NULL) {
			diag_print(&dg, stderr);
			fprintf(stderr, "set BART_FUZZ_RULES to the rules dir\n");
			abort();
		}
		diag_free(&dg);
	}
	if (ruleset_decide(rs, (const char *)data, size, &d) == 0) {
		for (size_t i = 0; i < d.nhits; i++)
			for (size_t j = 0; j < d.hits[i].nspans; j++)
				if (d.hits[i].spans[j].end > size ||
				    d.hits[i].spans[j].start >
				    d.hits[i].spans[j].end)
					abort();	/* span outside text */
		decision_clear(&d);
	}
	return 0;
}
