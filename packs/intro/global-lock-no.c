/*
 * global-lock-no.c: locks a and b taken in both orders, always under gate.
 *
 * One thread takes a then b, the other b then a, at the same time. That
 * would be the lock-order inversion of lock-order-yes.c, but both first
 * take the global lock gate, so only one of them holds a or b at a time:
 * no deadlock is possible and there is no race. Helgrind does not know
 * about gate locks and reports the inverted order all the same: a false
 * positive, and the textbook one.
 *
 * Data race pair: none
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static long balance;

static void *take_ab(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	pthread_mutex_lock(&a);
	pthread_mutex_lock(&b);
	balance += 10;
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&gate);
	return NULL;
}

static void *take_ba(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	pthread_mutex_lock(&b);
	pthread_mutex_lock(&a);
	balance -= 10;
	pthread_mutex_unlock(&a);
	pthread_mutex_unlock(&b);
	pthread_mutex_unlock(&gate);
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	pthread_create(&t[0], NULL, take_ab, NULL);
	pthread_create(&t[1], NULL, take_ba, NULL);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	printf("balance = %ld\n", balance);
	return balance == 0 ? 0 : 1;
}
