/* WRONG: evcache_count and evcache_evictions read their fields with no lock while puts write */
/*
 * broken/evcache.c: the bounded payment cache whose get lets a pointer
 * escape the lock. Lab 5, use after free: evcache_get finds the entry
 * under the mutex, unlocks, and only then copies the response out of the
 * entry it found, to keep a large copy out of the critical section. Same
 * API and same code as fixed/evcache.c, except where the unlock is.
 *
 * Race pairs, DataRaceBench style: variable, "code" at line N, read (R)
 * or write (W). The mutex is held on neither side of any pair: the get
 * has let go of it, and the entry was unlinked before it is wiped, freed
 * or handed out again.
 *   evcache.get.window  n->resp, the entry found: "*out = n->resp" at
 *                       line 109 (R) vs "memset(n, 0, sizeof(*n))" at
 *                       line 96 (W, node_wipe, from evcache_put when the
 *                       entry is replaced or evicted over capacity, or
 *                       from evcache_evict) and "free(old)" at line 142 or
 *                       "free(n)" at line 160 (W). Another thread unlinks
 *                       the entry after this get's unlock, then wipes
 *                       and frees it before or during the copy: garbage.
 *   the reused memory   n->resp again: "*out = n->resp" at line 109 (R)
 *                       vs "malloc(sizeof(*fresh))" at line 118 and
 *                       "fresh->resp = *resp" at line 122 (W, evcache_put):
 *                       malloc hands the freed entry to the next put,
 *                       which fills it with another user's response
 *                       while the get is still copying: wrong_user.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evcache.h"
#include "racepoint.h"

struct evcache_node {
	struct evcache_node *next; /* the next younger entry */
	char key[EVCACHE_USER_ID_MAX];
	struct evcache_response resp; /* never written once the node is linked */
};

struct evcache {
	pthread_mutex_t lock;	   /* guards every field below and every linked node */
	struct evcache_node *head; /* the oldest entry: evicted first */
	size_t count;
	size_t capacity;
	uint64_t evictions;
};

struct evcache *evcache_create(size_t capacity)
{
	struct evcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->capacity = capacity ? capacity : 1;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void evcache_destroy(struct evcache *c)
{
	if (!c)
		return;
	struct evcache_node *n = c->head;
	while (n) {
		struct evcache_node *next = n->next;
		free(n);
		n = next;
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int key_ok(const char *user_id)
{
	return strlen(user_id) < EVCACHE_USER_ID_MAX;
}

/* The address of the link that points at user_id's node, or at the NULL
 * that ends the list (where a new node goes: the youngest). */
static struct evcache_node **find_link(struct evcache *c, const char *user_id)
{
	struct evcache_node **link = &c->head;
	while (*link && strcmp((*link)->key, user_id) != 0)
		link = &(*link)->next;
	return link;
}

/* Wipes a node that is no longer linked, just before it is freed: it holds
 * a user's payment response, and malloc hands freed memory to whoever asks
 * next. The empty asm says the bytes are still used, so that the compiler
 * does not drop the stores as dead before free(). */
static void node_wipe(struct evcache_node *n)
{
	if (!n)
		return;
	memset(n, 0, sizeof(*n));
	__asm__ volatile("" : : "r"(n) : "memory");
}

bool evcache_get(struct evcache *c, const char *user_id, struct evcache_response *out)
{
	if (!key_ok(user_id))
		return false;
	pthread_mutex_lock(&c->lock);
	struct evcache_node *n = *find_link(c, user_id);
	RACE_POINT("evcache.get.window");
	if (n)
		*out = n->resp; /* read: freed memory, or by now another user's entry */
	pthread_mutex_unlock(&c->lock);
	return n != NULL;
}

bool evcache_put(struct evcache *c, const char *user_id, const struct evcache_response *resp)
{
	if (!key_ok(user_id))
		return false;
	/* Filled before locking: the node is nobody else's until linked. */
	struct evcache_node *fresh = malloc(sizeof(*fresh));
	if (!fresh)
		return false;
	snprintf(fresh->key, sizeof(fresh->key), "%s", user_id);
	fresh->resp = *resp;
	struct evcache_node *old = NULL;
	pthread_mutex_lock(&c->lock);
	struct evcache_node **link = find_link(c, user_id);
	if (*link) { /* replace: the new entry takes the old one's place */
		old = *link;
		fresh->next = old->next;
		*link = fresh;
	} else { /* add as the youngest, and evict the oldest if over capacity */
		fresh->next = NULL;
		*link = fresh;
		if (++c->count > c->capacity) {
			old = c->head;
			c->head = old->next;
			c->count--;
			c->evictions++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	node_wipe(old); /* unlinked under the lock: no other thread can reach it */
	free(old);
	return true;
}

bool evcache_evict(struct evcache *c, const char *user_id)
{
	if (!key_ok(user_id))
		return false;
	pthread_mutex_lock(&c->lock);
	struct evcache_node **link = find_link(c, user_id);
	struct evcache_node *n = *link;
	if (n) {
		*link = n->next;
		c->count--;
		c->evictions++;
	}
	pthread_mutex_unlock(&c->lock);
	node_wipe(n); /* unlinked under the lock: no other thread can reach it */
	free(n);
	return n != NULL;
}

size_t evcache_count(struct evcache *c)
{
	size_t n = c->count; /* one word: a plain read is enough */
	return n;
}

size_t evcache_capacity(struct evcache *c)
{
	return c->capacity; /* set once by evcache_create, never written again */
}

uint64_t evcache_evictions(struct evcache *c)
{
	uint64_t n = c->evictions; /* a statistic: no lock needed */
	return n;
}

int evcache_check(struct evcache *c, char *err, size_t errlen)
{
	int problems = 0;
	size_t found = 0;
	if (errlen)
		err[0] = '\0';
#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		if (problems++ == 0 && errlen)                                                     \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)
	/* found bounds the walk: a list longer than the capacity plus one is
	 * reported, not walked forever. */
	for (struct evcache_node *n = c->head; n && found <= c->capacity; n = n->next) {
		found++;
		for (struct evcache_node *m = n->next; m; m = m->next)
			if (strcmp(m->key, n->key) == 0) {
				PROBLEM("key %s is stored twice", n->key);
				break;
			}
	}
	if (found > c->capacity)
		PROBLEM("more than the capacity of %zu entries are linked", c->capacity);
	else if (found != c->count)
		PROBLEM("count says %zu entries, the list holds %zu", c->count, found);
#undef PROBLEM
	return problems;
}
