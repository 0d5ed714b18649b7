/* util.h: small helpers shared by every part of bart. */
#ifndef BART_UTIL_H
#define BART_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail (fatal on OOM). Caller frees with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer. buf_free releases; buf_steal hands the
 * NUL-terminated data to the caller (caller frees). */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};
void  buf_append(struct buf *b, const void *p, size_t n);
void  buf_puts(struct buf *b, const char *s);
void  buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *buf_steal(struct buf *b);
void  buf_free(struct buf *b);

/* Diagnostics collected as "file:line:col: message" (col 0 = omitted). */
struct diag {
	char	**msgs;
	size_t	  n;
	size_t	  nerrors;
	size_t	  nwarnings;
};
void diag_error(struct diag *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diag_warning(struct diag *d, const char *file, int line, int col,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void diag_print(const struct diag *d, FILE *fp);
void diag_free(struct diag *d);

/* Reads a whole file (at most maxlen bytes; larger is an error, errno
 * EFBIG). Returns NUL-terminated data, caller frees; NULL on error. */
char *read_file(const char *path, size_t maxlen, size_t *lenp);
/* Reads a secret: first line of a file, trailing newline stripped.
 * Caller frees (and should clear it). NULL on error. */
char *read_secret_file(const char *path);

/* Clocks. */
int64_t now_ms(void);		/* wall clock, Unix ms */
int64_t mono_ms(void);		/* monotonic ms */
/* ISO 8601 UTC with milliseconds into out (>= 32 bytes). */
void    fmt_time_ms(int64_t ms, char *out, size_t outsz);
/* Parse XEP-0082 / ISO 8601 date-time into Unix ms; -1 on error. */
int64_t parse_time_iso(const char *s);

/* Random: fills buf from the OS CSPRNG; fatal on failure. */
void    random_bytes(void *buf, size_t n);
/* Uniform in [0, n). */
uint32_t random_below(uint32_t n);
/* RFC 4122 version 4 UUID into out (37 bytes). */
void    uuid_v4(char out[37]);
/* Exponential backoff with full jitter: base*2^attempt capped at cap,
 * result uniform in [delay/2, delay]. */
int64_t backoff_ms(int attempt, int64_t base, int64_t cap);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void    hex_encode(const unsigned char *in, size_t n, char *out);
/* HMAC-SHA256 of msg with key, hex into out (65 bytes). */
void    hmac_sha256_hex(const void *key, size_t keylen, const void *msg,
    size_t msglen, char out[65]);

/* True if s is valid UTF-8 of length n. */
int     utf8_valid(const char *s, size_t n);
/* Copy of s with invalid UTF-8 sequences replaced by U+FFFD and NULs
 * dropped; caller frees. */
char   *utf8_sanitize(const char *s, size_t n, size_t *outlen);

/* mkdir -p; 0 on success. */
int     mkdir_p(const char *path, int mode);

#endif
