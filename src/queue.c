/* queue.c: bounded pointer queue on a mutex and two condition variables. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "queue.h"
#include "util.h"

struct queue {
	pthread_mutex_t	  mtx;
	pthread_cond_t	  notempty;
	pthread_cond_t	  notfull;
	void		**items;
	size_t		  cap, head, len;
	int		  closed;
};

struct queue *
queue_new(size_t cap)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	pthread_condattr_t ca;

	pthread_mutex_init(&q->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->notempty, &ca);
	pthread_cond_init(&q->notfull, &ca);
	pthread_condattr_destroy(&ca);
	q->items = xcalloc(cap, sizeof(*q->items));
	q->cap = cap;
	return q;
}

void
queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->mtx);
	pthread_cond_destroy(&q->notempty);
	pthread_cond_destroy(&q->notfull);
	free(q->items);
	free(q);
}

int
queue_push(struct queue *q, void *item)
{
	pthread_mutex_lock(&q->mtx);
	while (q->len == q->cap && !q->closed)
		pthread_cond_wait(&q->notfull, &q->mtx);
	if (q->closed) {
		pthread_mutex_unlock(&q->mtx);
		return -1;
	}
	q->items[(q->head + q->len) % q->cap] = item;
	q->len++;
	pthread_cond_signal(&q->notempty);
	pthread_mutex_unlock(&q->mtx);
	return 0;
}

void *
queue_pop(struct queue *q, int timeout_ms)
{
	struct timespec dl;
	void *item = NULL;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&q->mtx);
	while (q->len == 0 && !q->closed) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q->notempty, &q->mtx);
		else if (pthread_cond_timedwait(&q->notempty, &q->mtx,
		    &dl) == ETIMEDOUT)
			break;
	}
	if (q->len > 0) {
		item = q->items[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		pthread_cond_signal(&q->notfull);
	}
	pthread_mutex_unlock(&q->mtx);
	return item;
}

void
queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mtx);
	q->closed = 1;
	pthread_cond_broadcast(&q->notempty);
	pthread_cond_broadcast(&q->notfull);
	pthread_mutex_unlock(&q->mtx);
}

size_t
queue_len(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mtx);
	n = q->len;
	pthread_mutex_unlock(&q->mtx);
	return n;
}
