/* control.h: the daemon's control socket (state_dir/bartd.sock), a line
 * protocol used by bartctl: "status", "stats", "reload". */
#ifndef BART_CONTROL_H
#define BART_CONTROL_H

#include <stdatomic.h>

struct control_env {
	char		*path;		/* socket path */
	atomic_int	*stopping;
	atomic_int	*reload;	/* set to ask the core for a reload */
	/* Writes the answer to a command into fd; called on the control
	 * thread. Returns 0 or -1. */
	int		(*answer)(void *arg, const char *cmd, int fd);
	void		*arg;
};

/* Thread body; arg is a struct control_env. */
void *control_thread(void *arg);

/* Client side: sends cmd to the socket at path and copies the answer to
 * stdout. Returns an exit status (0 ok, 1 error). */
int control_request(const char *path, const char *cmd);

#endif
