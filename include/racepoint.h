/*
 * racepoint.h: named race points.
 *
 * Every racy window in a broken module is marked with RACE_POINT("name"),
 * for example RACE_POINT("cache.put.window") between the read of a bucket
 * head and the write that links a new node in front of it. The name, not a
 * line number, is what the lab's declared race site, the gdb walkthroughs
 * and delay injection refer to.
 *
 * In the release and sanitizer builds a race point compiles to nothing, so
 * the race that is measured is the race in the code. In the debug build
 * (RACELAB_RACEPOINTS) it calls racepoint_hit(), an empty function that gdb
 * can stop in and read the name from.
 */
#ifndef RACELAB_RACEPOINT_H
#define RACELAB_RACEPOINT_H

void racepoint_hit(const char *name);

#ifdef RACELAB_RACEPOINTS
#define RACE_POINT(name) racepoint_hit(name)
#else
#define RACE_POINT(name) ((void)0)
#endif

#endif
