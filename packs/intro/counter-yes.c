/*
 * counter-yes.c: two threads add to one global counter, without a lock.
 *
 * counter++ is a load, an add and a store. Two threads that interleave
 * them lose updates, so the total can come out short; main checks it and
 * exits 1 when it does. How often that shows depends on the compiler and
 * the machine: the race is there in every run, whether or not it shows.
 *
 * Data race pair: counter@22:3:W vs. counter@22:3:R
 */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 1000000

long counter;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++)
		counter++;
	return NULL;
}

int main(void)
{
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("counter = %ld (expected %d)\n", counter, 2 * ROUNDS);
	return counter == 2L * ROUNDS ? 0 : 1;
}
