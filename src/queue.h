/* queue.h: a small bounded multi-producer multi-consumer queue of
 * pointers; threads talk only through these and the store. */
#ifndef BART_QUEUE_H
#define BART_QUEUE_H

#include <stddef.h>

struct queue;

/* Caller frees with queue_free (items still inside are not freed). */
struct queue *queue_new(size_t cap);
void queue_free(struct queue *q);
/* Blocks while full; -1 once the queue is closed (item not taken). */
int  queue_push(struct queue *q, void *item);
/* Waits at most timeout_ms (-1 = forever) for an item; NULL on timeout
 * or when closed and empty. */
void *queue_pop(struct queue *q, int timeout_ms);
/* Wakes every waiter; pushes fail from now on; pops drain what is left. */
void queue_close(struct queue *q);
size_t queue_len(struct queue *q);

#endif
