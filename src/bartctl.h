/* bartctl.h: subcommands of bartctl, each in its own file. */
#ifndef BART_BARTCTL_H
#define BART_BARTCTL_H

/* `bartctl rules ...`; argv[0] is "rules". Returns the exit status. */
int cmd_rules(int argc, char **argv);

#endif
