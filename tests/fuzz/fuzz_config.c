/* fuzz_config.c: the configuration loader (libyaml + our tree + checks)
 * on arbitrary bytes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct diag d = { 0 };
	struct config *cfg;
	FILE *fp;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/bart-fuzz-config-%d.yaml",
		    (int)getpid());
	if ((fp = fopen(path, "w")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	cfg = config_load(path, &d);
	config_free(cfg);
	diag_free(&d);
	return 0;
}
