/*
 * topo.c: machine topology and thread placement (see include/topo.h).
 *
 * Everything but topo_read() works on a struct topo alone, so placement is
 * tested on described machines that the test host does not have. Every
 * function that fills a struct topo builds it in a local copy first: a
 * caller never sees half a topology after an error.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */

#include "topo.h"

#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *const policy_names[] = {
	[TOPO_NONE] = "none",	      [TOPO_SPREAD] = "spread", [TOPO_COMPACT] = "compact",
	[TOPO_SAME_CPU] = "same-cpu", [TOPO_LIST] = "list",
};

#define NPOLICIES ((int)(sizeof(policy_names) / sizeof(policy_names[0])))

int topo_policy_parse(const char *s, enum topo_policy *out)
{
	if (!s || !out)
		return -1;
	for (int i = 0; i < NPOLICIES; i++) {
		if (strcmp(s, policy_names[i]) == 0) {
			*out = (enum topo_policy)i;
			return 0;
		}
	}
	return -1;
}

const char *topo_policy_name(enum topo_policy p)
{
	/* A cast int may be anything; never index past the table. */
	if ((int)p < 0 || (int)p >= NPOLICIES)
		return "unknown";
	return policy_names[p];
}

/*
 * Reads the decimal CPU or node id at s[*pos] (s is n bytes, not
 * necessarily NUL-terminated). The value saturates at limit instead of
 * overflowing, so "99999999999999999999" is reported as out of range
 * rather than wrapping to some small valid id. Returns -1 if there is no
 * digit at s[*pos].
 */
static long read_id(const char *s, size_t n, size_t *pos, long limit)
{
	long v = 0;
	size_t start = *pos;

	while (*pos < n && s[*pos] >= '0' && s[*pos] <= '9') {
		if (v <= limit)
			v = v * 10 + (s[*pos] - '0');
		(*pos)++;
	}
	if (*pos == start)
		return -1;
	return v > limit ? limit + 1 : v;
}

/*
 * Explains why there is no id at s[pos]: the three mistakes people make.
 * sep is what may follow an id ("," in a cpulist, ":" after a node id).
 */
static void bad_id(const char *s, size_t n, size_t pos, char sep, const char *what, char *err,
		   size_t errlen)
{
	if (pos >= n || s[pos] == sep)
		set_err(err, errlen, "missing %s in \"%.*s\"", what, (int)n, s);
	else if (s[pos] == '-')
		set_err(err, errlen, "negative %s in \"%.*s\"", what, (int)n, s);
	else
		set_err(err, errlen, "unexpected '%c' in \"%.*s\"", s[pos], (int)n, s);
}

/*
 * The cpulist parser on a length-delimited string, so topo_describe() can
 * hand it the part of "0:0-3;1:4-7" after a node's ':' without copying.
 */
static int parse_cpulist_n(const char *s, size_t n, int *out, int max, char *err, size_t errlen)
{
	size_t pos = 0;
	int count = 0;

	if (!out || max < 1) {
		set_err(err, errlen, "no room for any CPU");
		return -1;
	}
	if (n == 0) {
		set_err(err, errlen, "empty CPU list");
		return -1;
	}
	for (;;) {
		long lo, hi;

		if (pos >= n || s[pos] == ',') {
			set_err(err, errlen, "empty item in CPU list \"%.*s\"", (int)n, s);
			return -1;
		}
		lo = read_id(s, n, &pos, TOPO_MAX_CPUS - 1);
		if (lo < 0) {
			bad_id(s, n, pos, ',', "CPU id", err, errlen);
			return -1;
		}
		hi = lo;
		if (pos < n && s[pos] == '-') {
			pos++;
			hi = read_id(s, n, &pos, TOPO_MAX_CPUS - 1);
			if (hi < 0) {
				bad_id(s, n, pos, ',', "range end", err, errlen);
				return -1;
			}
		}
		if (lo >= TOPO_MAX_CPUS || hi >= TOPO_MAX_CPUS) {
			set_err(err, errlen, "CPU id out of range (0-%d) in \"%.*s\"",
				TOPO_MAX_CPUS - 1, (int)n, s);
			return -1;
		}
		if (hi < lo) {
			set_err(err, errlen, "reversed range %ld-%ld in \"%.*s\"", lo, hi, (int)n,
				s);
			return -1;
		}
		/* Check before writing: out holds exactly max entries. */
		if (hi - lo + 1 > (long)(max - count)) {
			set_err(err, errlen, "more than %d CPUs in \"%.*s\"", max, (int)n, s);
			return -1;
		}
		for (long c = lo; c <= hi; c++)
			out[count++] = (int)c;
		if (pos == n)
			return count;
		if (s[pos] != ',') {
			set_err(err, errlen, "unexpected '%c' in \"%.*s\"", s[pos], (int)n, s);
			return -1;
		}
		pos++;
	}
}

int topo_parse_cpulist(const char *s, int *out, int max, char *err, size_t errlen)
{
	if (!s) {
		set_err(err, errlen, "no CPU list");
		return -1;
	}
	return parse_cpulist_n(s, strlen(s), out, max, err, errlen);
}

/*
 * Fills t from node_of[], indexed by CPU id (-1 for a CPU that is not
 * usable). Walking ids in order is what makes cpu[] and node[] ascending.
 */
static int build_topo(struct topo *t, const int *node_of, char *err, size_t errlen)
{
	/* Unused tails are zero, not stack garbage copied out to the caller. */
	memset(t, 0, sizeof(*t));
	for (int c = 0; c < TOPO_MAX_CPUS; c++) {
		int nd = node_of[c], k;

		if (nd < 0)
			continue;
		t->cpu[t->ncpus] = c;
		t->cpu_node[t->ncpus] = nd;
		t->ncpus++;
		/* Insertion keeps node[] sorted; it is at most 64 long. */
		for (k = 0; k < t->nnodes && t->node[k] < nd; k++)
			;
		if (k < t->nnodes && t->node[k] == nd)
			continue;
		if (t->nnodes == TOPO_MAX_NODES) {
			set_err(err, errlen, "more than %d NUMA nodes", TOPO_MAX_NODES);
			return -1;
		}
		memmove(&t->node[k + 1], &t->node[k], (size_t)(t->nnodes - k) * sizeof(t->node[0]));
		t->node[k] = nd;
		t->nnodes++;
	}
	if (t->ncpus == 0) {
		set_err(err, errlen, "no usable CPUs");
		return -1;
	}
	return 0;
}

int topo_describe(struct topo *t, const char *desc, char *err, size_t errlen)
{
	int ids[TOPO_MAX_CPUS];
	int node_of[TOPO_MAX_CPUS];
	int seen_node[TOPO_MAX_NODES] = { 0 };
	struct topo tmp;
	const char *p;

	if (!t || !desc) {
		set_err(err, errlen, "no topology description");
		return -1;
	}
	if (*desc == '\0') {
		set_err(err, errlen, "empty topology description");
		return -1;
	}
	for (int c = 0; c < TOPO_MAX_CPUS; c++)
		node_of[c] = -1;

	for (p = desc;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		size_t pos = 0;
		long nd;
		int n;

		if (len == 0) {
			set_err(err, errlen, "empty node item in \"%s\"", desc);
			return -1;
		}
		nd = read_id(p, len, &pos, TOPO_MAX_NODES - 1);
		if (nd < 0) {
			bad_id(p, len, pos, ':', "node id", err, errlen);
			return -1;
		}
		if (nd >= TOPO_MAX_NODES) {
			set_err(err, errlen, "node id out of range (0-%d) in \"%.*s\"",
				TOPO_MAX_NODES - 1, (int)len, p);
			return -1;
		}
		if (pos >= len || p[pos] != ':') {
			set_err(err, errlen, "expected node:cpulist, got \"%.*s\"", (int)len, p);
			return -1;
		}
		/* A repeated node is almost always a typo for another one. */
		if (seen_node[nd]) {
			set_err(err, errlen, "node %ld is described twice", nd);
			return -1;
		}
		seen_node[nd] = 1;
		pos++;
		n = parse_cpulist_n(p + pos, len - pos, ids, TOPO_MAX_CPUS, err, errlen);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			if (node_of[ids[i]] >= 0) {
				set_err(err, errlen,
					"cpu %d is listed twice (node %d and node %ld)", ids[i],
					node_of[ids[i]], nd);
				return -1;
			}
			node_of[ids[i]] = (int)nd;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (build_topo(&tmp, node_of, err, errlen) < 0)
		return -1;
	*t = tmp;
	return 0;
}

int topo_read(struct topo *t, char *err, size_t errlen)
{
	int node_of[TOPO_MAX_CPUS];
	struct topo tmp;
	cpu_set_t set;
	int numa;

	if (!t) {
		set_err(err, errlen, "no topology to fill");
		return -1;
	}
	/*
	 * The affinity mask, not the online CPUs: under taskset, cgroups or a
	 * CI runner's cpuset, pinning to a CPU outside it fails.
	 */
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		if (errno == EINVAL)
			set_err(err, errlen,
				"sched_getaffinity: this machine has more than %d CPUs",
				TOPO_MAX_CPUS);
		else
			set_err(err, errlen, "sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	/* Without NUMA support every CPU is one node's, as the header says. */
	numa = numa_available() >= 0;
	for (int c = 0; c < TOPO_MAX_CPUS; c++) {
		node_of[c] = -1;
		if (c >= CPU_SETSIZE || !CPU_ISSET(c, &set))
			continue;
		node_of[c] = numa ? numa_node_of_cpu(c) : 0;
		if (node_of[c] < 0) {
			set_err(err, errlen, "numa_node_of_cpu(%d): %s", c, strerror(errno));
			return -1;
		}
	}
	if (build_topo(&tmp, node_of, err, errlen) < 0)
		return -1;
	*t = tmp;
	return 0;
}

/*
 * Formats the CPUs of one node of t (every CPU when node < 0) as a cpulist
 * ("0-3,6"), truncated to fit, so an error can tell the user what they
 * could have asked for.
 */
static void format_cpus(const struct topo *t, int node, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < t->ncpus && used < len; i++) {
		if (node >= 0 && t->cpu_node[i] != node)
			continue;
		int j = i;
		int w;

		while (j + 1 < t->ncpus && t->cpu[j + 1] == t->cpu[j] + 1 &&
		       (node < 0 || t->cpu_node[j + 1] == node))
			j++;
		if (j > i)
			w = snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", t->cpu[i],
				     t->cpu[j]);
		else
			w = snprintf(buf + used, len - used, "%s%d", used ? "," : "", t->cpu[i]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		i = j;
	}
}

void topo_format(const struct topo *t, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int n = 0; n < t->nnodes && used < len; n++) {
		char cpus[512];
		int w;

		format_cpus(t, t->node[n], cpus, sizeof(cpus));
		w = snprintf(buf + used, len - used, "%s%d:%s", n ? ";" : "", t->node[n], cpus);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

/*
 * A struct topo can be filled by hand; placement divides by per-node CPU
 * counts, so refuse one that does not hold together rather than crash.
 */
static int check_topo(const struct topo *t, char *err, size_t errlen)
{
	if (!t || t->ncpus < 1 || t->ncpus > TOPO_MAX_CPUS) {
		set_err(err, errlen, "no usable CPUs in the topology");
		return -1;
	}
	if (t->nnodes < 1 || t->nnodes > TOPO_MAX_NODES) {
		set_err(err, errlen, "no NUMA nodes in the topology");
		return -1;
	}
	/* topo_node_of() searches cpu[] by bisection. */
	for (int i = 0; i < t->ncpus; i++) {
		if (t->cpu[i] < 0 || t->cpu[i] >= TOPO_MAX_CPUS ||
		    (i > 0 && t->cpu[i] <= t->cpu[i - 1])) {
			set_err(err, errlen, "the topology's CPUs are not ascending ids");
			return -1;
		}
	}
	for (int i = 0; i < t->ncpus; i++) {
		if (!topo_has_node(t, t->cpu_node[i])) {
			set_err(err, errlen, "cpu %d is on node %d, which is not in the topology",
				t->cpu[i], t->cpu_node[i]);
			return -1;
		}
	}
	for (int k = 0; k < t->nnodes; k++) {
		int n = 0;

		for (int i = 0; i < t->ncpus; i++)
			n += t->cpu_node[i] == t->node[k];
		if (n == 0) {
			set_err(err, errlen, "node %d has no CPUs", t->node[k]);
			return -1;
		}
	}
	return 0;
}

/*
 * SPREAD and COMPACT walk the CPUs in node-major order: node[0]'s CPUs
 * ascending, then node[1]'s.
 */
static void place_by_node(const struct topo *t, enum topo_policy p, int nthreads, int *out_cpu)
{
	int order[TOPO_MAX_CPUS];
	int start[TOPO_MAX_NODES], count[TOPO_MAX_NODES];
	int n = 0;

	for (int k = 0; k < t->nnodes; k++) {
		start[k] = n;
		for (int i = 0; i < t->ncpus; i++)
			if (t->cpu_node[i] == t->node[k])
				order[n++] = t->cpu[i];
		count[k] = n - start[k];
	}
	if (p == TOPO_COMPACT) {
		for (int i = 0; i < nthreads; i++)
			out_cpu[i] = order[i % n];
		return;
	}
	/*
	 * SPREAD: neighbouring threads land on different nodes, so a
	 * two-thread race crosses the interconnect. A node whose CPUs
	 * are all taken is skipped, so every CPU gets a thread before
	 * any gets a second one, even when nodes differ in size. On
	 * one node this is cpu[i % ncpus].
	 */
	int used[TOPO_MAX_NODES] = { 0 }, k = 0, placed = 0;

	for (int i = 0; i < nthreads; i++) {
		if (placed == n) { /* every CPU has one: start over */
			memset(used, 0, sizeof(used));
			placed = 0;
			k = 0;
		}
		while (used[k] == count[k])
			k = (k + 1) % t->nnodes;
		out_cpu[i] = order[start[k] + used[k]++];
		placed++;
		k = (k + 1) % t->nnodes;
	}
}

static int place_list(const struct topo *t, const int *list, int nlist, int nthreads, int *out_cpu,
		      char *err, size_t errlen)
{
	if (!list || nlist < 1) {
		set_err(err, errlen, "policy list needs a CPU list");
		return -1;
	}
	/* Check the whole list first: pinning to a missing CPU fails late. */
	for (int j = 0; j < nlist; j++) {
		if (topo_node_of(t, list[j]) < 0) {
			char usable[256];

			format_cpus(t, -1, usable, sizeof(usable));
			set_err(err, errlen, "cpu %d is not usable here (usable: %s)", list[j],
				usable);
			return -1;
		}
	}
	for (int i = 0; i < nthreads; i++)
		out_cpu[i] = list[i % nlist];
	return 0;
}

int topo_place(const struct topo *t, enum topo_policy p, const int *list, int nlist, int nthreads,
	       int *out_cpu, char *err, size_t errlen)
{
	if (nthreads < 1 || nthreads > TOPO_MAX_THREADS) {
		set_err(err, errlen, "thread count %d is out of range (1-%d)", nthreads,
			TOPO_MAX_THREADS);
		return -1;
	}
	if (!out_cpu) {
		set_err(err, errlen, "nowhere to put the placement");
		return -1;
	}
	/* NONE needs no topology: it is what an unpinned run does anyway. */
	if (p == TOPO_NONE) {
		for (int i = 0; i < nthreads; i++)
			out_cpu[i] = -1;
		return 0;
	}
	if (check_topo(t, err, errlen) < 0)
		return -1;

	switch (p) {
	case TOPO_SPREAD:
	case TOPO_COMPACT: place_by_node(t, p, nthreads, out_cpu); return 0;
	case TOPO_SAME_CPU:
		for (int i = 0; i < nthreads; i++)
			out_cpu[i] = t->cpu[0];
		return 0;
	case TOPO_LIST: return place_list(t, list, nlist, nthreads, out_cpu, err, errlen);
	case TOPO_NONE: break;
	}
	set_err(err, errlen, "unknown placement policy %d", (int)p);
	return -1;
}

int topo_node_of(const struct topo *t, int cpu)
{
	int lo = 0, hi;

	if (!t)
		return -1;
	/* cpu[] is ascending, and LIST checks every entry against it. */
	hi = t->ncpus - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (t->cpu[mid] == cpu)
			return t->cpu_node[mid];
		if (t->cpu[mid] < cpu)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

int topo_has_node(const struct topo *t, int node)
{
	if (!t)
		return 0;
	for (int k = 0; k < t->nnodes; k++)
		if (t->node[k] == node)
			return 1;
	return 0;
}
