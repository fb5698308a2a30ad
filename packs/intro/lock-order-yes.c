/*
 * lock-order-yes.c: one thread takes lock a then b, the other b then a.
 *
 * Here the second thread starts after the first has ended, so this run
 * cannot deadlock; two threads running the same code at the same time can,
 * each holding one lock and waiting for the other. The detectors report
 * the inverted order without the deadlock having to happen.
 *
 * Lock-order pair: b@22:2 vs. a@33:2
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static long balance;

static void *take_ab(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&b);
	balance += 10;
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
	return NULL;
}

static void *take_ba(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&b);
	pthread_mutex_lock(&a);
	balance -= 10;
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
	return NULL;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, take_ab, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, take_ba, NULL);
	pthread_join(t, NULL);
	printf("balance = %ld\n", balance);
	return balance == 0 ? 0 : 1;
}
