/*
 * main.c: racelab-loadgen, the load generator of the war story.
 *
 * Drives racelab-service's POST /process-payment from many keep-alive
 * connections at once, checks every answer against its request, and ends
 * with the story's verdict: the error rate against a threshold (5%), and
 * any leak of another user's payment as a failure on its own.
 *
 * Exit status: 0 pass, 1 fail (error rate above the threshold, or a
 * leak), 2 bad arguments or the load could not start.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

static void on_stop(int sig)
{
	(void)sig;
	loadgen_stop();
}

int main(int argc, char **argv)
{
	static struct loadgen_options o;
	int rc = loadgen_parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;

	/* Opened before the run, so a bad path fails at once, not after it. */
	FILE *json = NULL;
	if (o.json_path) {
		json = strcmp(o.json_path, "-") == 0 ? stdout : fopen(o.json_path, "w");
		if (!json) {
			fprintf(stderr, "racelab-loadgen: error: cannot write --json '%s'\n",
				o.json_path);
			return 2;
		}
	}
	if (o.payments_path && !(o.payments = fopen(o.payments_path, "w"))) {
		fprintf(stderr, "racelab-loadgen: error: cannot write --payments '%s'\n",
			o.payments_path);
		return 2;
	}
	/* SIGINT or SIGTERM: the requests in flight end, then the report
	 * (a test that crashes the service stops its load this way). */
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct loadgen_totals *t = calloc(1, sizeof(*t));
	if (!t || !loadgen_run(&o, t))
		return 2;
	if (o.payments && fclose(o.payments) != 0) {
		fprintf(stderr, "racelab-loadgen: error: writing --payments '%s' failed\n",
			o.payments_path);
		return 2;
	}
	if (!o.quiet && json != stdout)
		loadgen_print(&o, t);
	if (json && (!loadgen_write_json(&o, t, json) || (json != stdout && fclose(json) != 0))) {
		fprintf(stderr, "racelab-loadgen: error: writing --json '%s' failed\n",
			o.json_path);
		return 2;
	}

	uint64_t errors = loadgen_errors(t);
	double pct = t->requests ? 100.0 * (double)errors / (double)t->requests : 0.0;
	bool fail = pct > o.threshold_pct || t->leaks > 0;
	char why[128] = "";
	if (t->leaks)
		snprintf(why, sizeof(why), "; %llu leaks of another user's payment",
			 (unsigned long long)t->leaks);
	/* On stdout after the report; on stderr when stdout holds the JSON. */
	fprintf(json == stdout ? stderr : stdout,
		"verdict: %s: error rate %.2f%% (%llu of %llu) %s the %g%% threshold%s\n",
		fail ? "FAIL" : "PASS", pct, (unsigned long long)errors,
		(unsigned long long)t->requests, pct > o.threshold_pct ? "above" : "within",
		o.threshold_pct, why);
	return fail ? 1 : 0;
}
