/* work_pool: a fixed number of threads running queued jobs.
 * The exec pipeline runs its short blocking steps here (building an input
 * root, uploading, fetching outputs); waiting on Buildbarn happens in no
 * thread at all. The number of threads never grows with the requests. */
#ifndef WORK_POOL_H
#define WORK_POOL_H

typedef struct work_pool work_pool;

work_pool *work_pool_new(int threads);
/* Queues fn(arg); never blocks. */
void work_pool_run(work_pool *p, void (*fn)(void *arg), void *arg);
/* Runs what is queued, then stops the threads. */
void work_pool_free(work_pool *p);

#endif
