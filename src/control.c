/* control.c: unix-socket control channel between bartctl and bartd. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "util.h"

#define CONTROL_LINE_MAX	256

static int
sock_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

static void
serve(struct control_env *env, int fd)
{
	char line[CONTROL_LINE_MAX];
	size_t len = 0;
	struct pollfd pfd = { fd, POLLIN, 0 };

	while (len < sizeof(line) - 1) {
		ssize_t r;
		if (poll(&pfd, 1, 2000) <= 0)
			return;
		r = read(fd, line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			return;
		len += (size_t)r;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (env->answer(env->arg, line, fd) == -1)
		dprintf(fd, "error: unknown command '%s'\n", line);
}

void *
control_thread(void *arg)
{
	struct control_env *env = arg;
	struct sockaddr_un sun;
	int s, c;

	if (sock_addr(env->path, &sun) == -1 ||
	    (s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("control socket %s", env->path);
		return NULL;
	}
	unlink(env->path);
	if (bind(s, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(env->path, 0600) == -1 || listen(s, 8) == -1) {
		log_warn("control socket %s", env->path);
		close(s);
		return NULL;
	}
	while (!atomic_load(env->stopping)) {
		struct pollfd pfd = { s, POLLIN, 0 };
		if (poll(&pfd, 1, 250) <= 0)
			continue;
		if ((c = accept4(s, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		serve(env, c);
		close(c);
	}
	close(s);
	unlink(env->path);
	return NULL;
}

int
control_request(const char *path, const char *cmd)
{
	struct sockaddr_un sun;
	char buf[4096];
	ssize_t r;
	int s;

	if (sock_addr(path, &sun) == -1 ||
	    (s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "bartctl: cannot reach bartd at %s: %s (is "
		    "it running?)\n", path, strerror(errno));
		return 1;
	}
	dprintf(s, "%s\n", cmd);
	while ((r = read(s, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)r, stdout);
	close(s);
	return 0;
}
