/*
 * rusage_exec.c: racelab-rusage FD PROGRAM [ARG...]: run PROGRAM and write
 * its own peak memory and CPU time to file descriptor FD.
 *
 * Why a launcher: on Linux a process's peak resident memory (ru_maxrss)
 * survives exec, so a program started by the Python runner reports at
 * least the runner's own memory (about 20 MB) even if it used 1 MB. This
 * small launcher holds almost nothing when it forks, so its child's
 * ru_maxrss is the program's own. It waits for the child with wait4, which
 * returns that child's usage alone, writes one line to FD:
 *
 *   <peak_rss_kb> <user_s> <system_s>
 *
 * and then ends as the child ended: the same exit code, or killed by the
 * same signal, so the runner sees no difference. A trial killed at its
 * limit takes the launcher with it (both are in the trial's process
 * group) and writes nothing: its peak is then unknown.
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Ends this process the way the child ended. */
static void end_as(int status)
{
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	int sig = WTERMSIG(status);
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core); /* the child dumped core already, or not */
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig); /* a signal whose default is not to end the process */
}

int main(int argc, char **argv)
{
	char *end;
	long fd = argc >= 3 ? strtol(argv[1], &end, 10) : -1;
	if (argc < 3 || *end != '\0' || fd < 0) {
		fprintf(stderr, "usage: racelab-rusage FD PROGRAM [ARG...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "racelab-rusage: fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		close((int)fd); /* the program must not write to the report */
		execvp(argv[2], argv + 2);
		fprintf(stderr, "racelab-rusage: cannot run %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	/* The runner's signals (a Ctrl-C, the limit's SIGKILL) go to the whole
	 * process group; the launcher must outlive nothing but its child. */
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "racelab-rusage: wait4: %s\n", strerror(errno));
			return 127;
		}
	dprintf((int)fd, "%ld %ld.%06ld %ld.%06ld\n", ru.ru_maxrss, (long)ru.ru_utime.tv_sec,
		(long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
	close((int)fd);
	end_as(status);
	return 0;
}
