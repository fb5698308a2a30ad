/*
 * loadgen.h: racelab-loadgen's options and the totals of a run, shared by
 * its command line (options.c), its event loops (run.c) and its report
 * (report.c).
 */
#ifndef RACELAB_LOADGEN_H
#define RACELAB_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "hist.h"
#include "paymap.h"

#define LOADGEN_MAX_CONNECTIONS 10000
#define LOADGEN_STATUS_MAX	600

/* Whose payment each request is. */
enum loadgen_users {
	USERS_STORY,  /* connection w sends user-w-(j%10): the war story's load test */
	USERS_UNIQUE, /* user-w-j: every request a new user, so every one a charge */
	USERS_SHARED, /* user-s-(random of N): connections compete for the same users */
	USERS_SEQ,    /* seq-S, S the run's request number: one run replays another */
};

struct loadgen_options {
	char url[256];
	char host[128];
	char port[8];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int connections;
	int threads;	   /* event loops, each owning a share of the connections */
	double rate;	   /* requests/s in all, a constant schedule; 0: closed loop */
	uint64_t requests; /* 0: run for duration_ms */
	int64_t duration_ms;
	enum loadgen_users users;
	int shared_users;
	int64_t amount_cents; /* -1: each user its own amount (--amount varied) */
	int timeout_ms;
	bool keepalive;
	double threshold_pct;
	const char *json_path; /* NULL: none; "-": stdout */
	bool quiet;
	uint64_t seed;
	const char *api_key;	/* Authorization: Bearer KEY; NULL: none */
	bool idempotency;	/* send Idempotency-Key: key_prefix + user id */
	const char *key_prefix; /* "" by default */
	FILE *payments;		/* every 200's user, payment id and cents; NULL: none */
	const char *payments_path;
};

struct loadgen_totals {
	uint64_t requests, successes, cached;
	uint64_t status[LOADGEN_STATUS_MAX]; /* non-200 answers by status code */
	uint64_t timeouts, resets, connects, protocol, leaks;
	int64_t first_error_ns; /* since the start; -1: none */
	int64_t elapsed_ns;
	struct hist hist;	    /* every complete response, in us, from its send */
	struct hist hist_corrected; /* the same, from its intended start (--rate only) */
	struct hist hist_connect;   /* every connect made, in us */
	struct paymap pay;
	char leak_example[160]; /* the first leak seen: sent this, got that */
};

/* Parses argv; on bad input prints one line and returns 2; 1 after
 * --help (printed), 0 when the run may go ahead. */
int loadgen_parse(int argc, char **argv, struct loadgen_options *o);
/* Runs the load; returns false (after one line on stderr) when it could
 * not start. */
bool loadgen_run(const struct loadgen_options *o, struct loadgen_totals *t);
/* Ends the run early: no new request starts (async-signal-safe). */
void loadgen_stop(void);
uint64_t loadgen_errors(const struct loadgen_totals *t);
void loadgen_print(const struct loadgen_options *o, const struct loadgen_totals *t);
/* Writes the results as one JSON object and a newline to f. */
bool loadgen_write_json(const struct loadgen_options *o, const struct loadgen_totals *t, FILE *f);
/* The user id of request j of connection w (seq: of the run's request s). */
void loadgen_request_user(const struct loadgen_options *o, int w, uint64_t j, uint64_t s,
			  uint64_t *rng, char *user, size_t size);
int64_t loadgen_request_cents(const struct loadgen_options *o, const char *user);
/* The bytes of one request into req[0..size); their length, 0 when they
 * do not fit. */
size_t loadgen_request_build(const struct loadgen_options *o, const char *user, int64_t cents,
			     char *req, size_t size);
/* The CPUs this process may run on: the default and the most --threads. */
int loadgen_cpus(void);

#endif
