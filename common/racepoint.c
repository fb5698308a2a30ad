/*
 * racepoint.c: the function a race point calls in the debug build.
 * It does nothing; it exists so that gdb can stop here, read `name` and
 * decide whether this thread has reached the point a schedule asks for.
 * noinline and the empty asm keep the call in place at -O0 and above.
 */
#include "racepoint.h"

__attribute__((noinline)) void racepoint_hit(const char *name)
{
	__asm__ volatile("" : : "r"(name) : "memory");
}
