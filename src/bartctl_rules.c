/* bartctl_rules.c: placeholder, being written. */
#include "config.h"
#include <stdio.h>
#include "bartctl.h"
int cmd_rules(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not yet\n"); return 1; }
