/*
 * as_mutex.h: the "one mutex" design is fixed/cache.c with its
 * reader-writer lock swapped for a plain mutex, and nothing else changed.
 * Forced in front of fixed/cache.c (-include bench/as_mutex.h), so the two
 * designs differ only in the lock and the benchmark measures exactly what
 * letting reads overlap buys (or costs).
 *
 * <pthread.h> comes first so that its own declarations keep their names;
 * its include guard keeps fixed/cache.c's #include from undoing that.
 */
#ifndef RACELAB_BENCH_AS_MUTEX_H
#define RACELAB_BENCH_AS_MUTEX_H

#include <pthread.h>

#define pthread_rwlock_t       pthread_mutex_t
#define pthread_rwlock_init    pthread_mutex_init
#define pthread_rwlock_destroy pthread_mutex_destroy
#define pthread_rwlock_rdlock  pthread_mutex_lock
#define pthread_rwlock_wrlock  pthread_mutex_lock
#define pthread_rwlock_unlock  pthread_mutex_unlock

#endif
