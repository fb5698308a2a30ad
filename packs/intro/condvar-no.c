/*
 * condvar-no.c: the spin of spin-flag-yes.c done right, with a condition
 * variable.
 *
 * The producer writes data and ready under the mutex and signals while
 * still holding it; the consumer waits in a loop, since a wait can return
 * without a signal. Every access to data and ready is under the mutex, so
 * there is no race. (Signalling after the unlock would be as correct, but
 * Helgrind then reports the signal.)
 *
 * Data race pair: none
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int data;
static int ready;

static void *producer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	data = 42;
	ready = 1;
	pthread_cond_signal(&changed);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *consumer(void *arg)
{
	int *seen = arg;

	pthread_mutex_lock(&mu);
	while (!ready)
		pthread_cond_wait(&changed, &mu);
	*seen = data;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	pthread_t p, c;
	int seen = 0;

	pthread_create(&c, NULL, consumer, &seen);
	pthread_create(&p, NULL, producer, NULL);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	printf("consumer saw %d\n", seen);
	return seen == 42 ? 0 : 1;
}
