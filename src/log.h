/* log.h: the one logging and error idiom of bart (after OpenBSD's log.c).
 * log_warn appends strerror(errno); log_warnx does not. fatal/fatalx exit(1).
 * Messages go to stderr with a timestamp; secrets and message text of
 * unmatched chat messages must never be passed here. */
#ifndef BART_LOG_H
#define BART_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *progname, int level);
void log_setlevel(int level);
int  log_getlevel(void);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
