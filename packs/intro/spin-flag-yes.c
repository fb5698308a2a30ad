/*
 * spin-flag-yes.c: a consumer spins on a plain int flag the producer sets.
 *
 * Nothing orders the producer's two stores with the consumer's loads: the
 * compiler may reorder or merge them, and so may a weakly ordered CPU, so
 * the consumer can see ready == 1 and a stale data. The loop calls
 * sched_yield(), which makes the compiler read ready again each time (it
 * cannot know that the call leaves a global alone); without it, gcc -O1
 * may read ready once and spin forever. On x86 the program usually
 * prints the right value: the race is there all the same.
 *
 * Data race pair: ready@25:2:W vs. ready@33:10:R
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

int data;
int ready;

static void *producer(void *arg)
{
	(void)arg;
	data = 42;
	ready = 1;
	return NULL;
}

static void *consumer(void *arg)
{
	int *seen = arg;

	while (!ready)
		sched_yield();
	*seen = data;
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
