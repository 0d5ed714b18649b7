/* replay.c: runs a fuzz target over the files of a corpus directory (the
 * seeds and every crash found so far), so `make check` keeps them fixed
 * without needing clang's libFuzzer. Prints TAP. */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	int n = 0;
	char *deflt[2] = { NULL, NULL };

	/* Without arguments: tests/fuzz/corpus/NAME for replay_NAME. */
	if (argc == 1) {
		const char *base = strrchr(argv[0], '/');
		const char *top = getenv("top_srcdir");
		base = base ? base + 1 : argv[0];
		if (strncmp(base, "replay_", 7) == 0)
			base += 7;
		deflt[1] = xasprintf("%s/tests/fuzz/corpus/%s", top ? top :
		    ".", base);
		argv = deflt;
		argc = 2;
		if (getenv("BART_FUZZ_RULES") == NULL && top) {
			char *r = xasprintf("%s/rules", top);
			setenv("BART_FUZZ_RULES", r, 1);
			free(r);
		}
	}
	for (int a = 1; a < argc; a++) {
		DIR *dp = opendir(argv[a]);
		struct dirent *de;
		char **names = NULL;
		size_t nn = 0;

		if (dp == NULL) {
			printf("not ok %d - corpus %s missing\n", ++n, argv[a]);
			continue;
		}
		while ((de = readdir(dp)) != NULL)
			if (de->d_name[0] != '.') {
				names = xrealloc(names, (nn + 1) *
				    sizeof(*names));
				names[nn++] = xstrdup(de->d_name);
			}
		closedir(dp);
		for (size_t i = 0; i < nn; i++) {
			char *path = xasprintf("%s/%s", argv[a], names[i]);
			size_t len;
			char *data = read_file(path, 16 * 1024 * 1024, &len);

			if (data == NULL)
				printf("not ok %d - cannot read %s\n", ++n,
				    path);
			else {
				LLVMFuzzerTestOneInput((const uint8_t *)data,
				    len);
				printf("ok %d - %s\n", ++n, names[i]);
			}
			free(data);
			free(path);
			free(names[i]);
		}
		free(names);
	}
	printf("1..%d\n", n);
	free(deflt[1]);
	return 0;
}
