/*
 * stacks.c: every thread's stack of this very process, from gdb in batch.
 *
 * When a trial hangs (a deadlock, a loop), the watchdog wants to record
 * where each thread is stuck, as the story's engineers did by attaching a
 * debugger to the live process. A process cannot ptrace itself, so a child
 * runs gdb against its parent. On kernels with Yama's ptrace_scope = 1 a
 * child may not trace its parent unless the parent allows it first, which
 * stress_stacks_allow() does (prctl PR_SET_PTRACER).
 */
#define _GNU_SOURCE /* pipe2, prctl */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

void stress_stacks_allow(void)
{
#ifdef PR_SET_PTRACER
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#endif
}

char *stress_stacks(int limit_s)
{
	int fd[2];
	if (pipe2(fd, O_CLOEXEC) != 0)
		return NULL;
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	pid_t child = fork();
	if (child < 0) {
		close(fd[0]);
		close(fd[1]);
		return NULL;
	}
	if (child == 0) {
		/* Only async-signal-safe calls between fork and exec: the other
		 * threads of the parent may hold any lock, malloc's included. */
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		execlp("gdb", "gdb", "--batch", "-nx", "-p", pid, "-ex", "set pagination off",
		       "-ex", "thread apply all bt 12", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);

	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	time_t deadline = time(NULL) + limit_s;
	while (out && len < cap - 1) {
		ssize_t n = read(fd[0], out + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || time(NULL) > deadline)
			break;
		len += (size_t)n;
	}
	close(fd[0]);
	kill(child, SIGKILL); /* gdb has detached by now, or is stuck */
	waitpid(child, NULL, 0);
	if (out)
		out[len] = '\0';
	return out;
}
