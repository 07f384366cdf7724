/*
 * procstat.h - this process's CPU time, start time, memory and file
 * descriptors, as the process_* families of the Go client report them.
 */
#ifndef WEB_PROCSTAT_H
#define WEB_PROCSTAT_H

#include <stdint.h>

/* A value that cannot be read (a container without /proc, say) has its
 * have_* flag 0, so its family is left out rather than reported as a
 * made-up 0. */
struct procstat {
	int have_stat;                  /* /proc/self/stat and btime were read */
	double cpu_seconds, start_time; /* user + system; Unix seconds */
	uint64_t vsize, rss_bytes;
	int have_fds;
	uint64_t open_fds;
	int have_max_fds;               /* 0 also when the limit is unlimited */
	uint64_t max_fds;
};

void procstat_read(struct procstat *p);

#endif
