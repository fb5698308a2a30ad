/*
 * topo.h: machine topology (NUMA nodes and their CPUs) and thread placement.
 *
 * The placement logic is a pure function of a described topology, so it is
 * unit-tested against one-, two- and four-node machines even though the
 * machine running the tests may have only one node. topo_read() fills a
 * topology from libnuma and the process's CPU affinity mask.
 */
#ifndef RACELAB_TOPO_H
#define RACELAB_TOPO_H

#include <stddef.h>

#define TOPO_MAX_CPUS	 1024
#define TOPO_MAX_NODES	 64
#define TOPO_MAX_THREADS 4096 /* topo_place() refuses more: a typo, not a lab */

struct topo {
	int ncpus;		     /* usable CPUs, in ascending id order */
	int cpu[TOPO_MAX_CPUS];	     /* their ids */
	int cpu_node[TOPO_MAX_CPUS]; /* the node of cpu[i] */
	int nnodes;		     /* nodes that own at least one usable CPU */
	int node[TOPO_MAX_NODES];    /* their ids, ascending */
};

enum topo_policy {
	TOPO_NONE,     /* leave threads where the scheduler puts them */
	TOPO_SPREAD,   /* distinct CPUs while any is free; alternate nodes */
	TOPO_COMPACT,  /* fill one node's CPUs before the next node's */
	TOPO_SAME_CPU, /* every thread on one CPU: the scheduler interleaves */
	TOPO_LIST,     /* an explicit CPU list, used in turn */
};

/* Parses "spread", "compact", "same-cpu", "none" or "list".
 * Returns 0, or -1 for an unknown name. */
int topo_policy_parse(const char *s, enum topo_policy *out);
const char *topo_policy_name(enum topo_policy p);

/* Parses a CPU list such as "0,2-3" into out (at most max entries, in the
 * order given; repeats are kept). Ids are 0..TOPO_MAX_CPUS-1; no spaces,
 * empty items or reversed ranges. Returns the count, or -1 with a reason
 * in err. */
int topo_parse_cpulist(const char *s, int *out, int max, char *err, size_t errlen);

/* Parses a described topology such as "0:0-3;1:4-7" (node:cpulist, nodes
 * separated by ';', node ids 0..TOPO_MAX_NODES-1, in any order). A node
 * given twice, a CPU in two places or an empty list is an error. Returns 0,
 * or -1 with a reason in err; t is unchanged on error. */
int topo_describe(struct topo *t, const char *desc, char *err, size_t errlen);

/* Reads this machine's topology: the CPUs in the affinity mask and, when
 * libnuma is available, their nodes (otherwise every CPU is on node 0).
 * Returns 0, or -1 with a reason in err; t is unchanged on error. */
int topo_read(struct topo *t, char *err, size_t errlen);

/*
 * Chooses a CPU for each of nthreads (1..TOPO_MAX_THREADS) threads; out_cpu
 * holds nthreads entries. out_cpu[i] is a CPU id, or -1 for TOPO_NONE (which
 * does not look at t). More threads than CPUs wrap around:
 *   SPREAD    nodes in turn, each giving its next free CPU; a node with
 *             none free is skipped, so every CPU gets a thread before any
 *             gets two; then it starts over. One node: cpu[i % ncpus]
 *   COMPACT   node-major order (node[0]'s CPUs, then node[1]'s), i % ncpus
 *   SAME_CPU  cpu[0]
 *   LIST      list[i % nlist]
 * list/nlist are used only by TOPO_LIST; every CPU in the list must be in t.
 * Returns 0, or -1 with a reason in err.
 */
int topo_place(const struct topo *t, enum topo_policy p, const int *list, int nlist, int nthreads,
	       int *out_cpu, char *err, size_t errlen);

/* Describes t in topo_describe()'s syntax ("0:0-3;1:4-7"), truncated to
 * fit in len bytes. */
void topo_format(const struct topo *t, char *buf, size_t len);

/* The node that owns cpu, or -1 when cpu is not in t. */
int topo_node_of(const struct topo *t, int cpu);
/* Whether node is one of t's nodes. */
int topo_has_node(const struct topo *t, int node);

#endif
