/* bartctl.c: the operator's and moderator's tool. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bartctl.h"
#include "log.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bartctl rules check DIR\n"
	    "       bartctl rules test [--json] DIR FILE\n"
	    "       bartctl rules explain DIR TEXT\n");
}

int
main(int argc, char **argv)
{
	log_init("bartctl", LOG_LVL_WARN);
	if (argc < 2) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "rules") == 0)
		return cmd_rules(argc - 1, argv + 1);
	usage();
	return 2;
}
