/*
 * procstat.c - what the process collector of the Go client reports about
 * this process, read from /proc/self (and /proc/stat for the boot time).
 * Reading only: web/expo.c writes the process_* families from it.
 */
#include "web/procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* path's first size - 1 bytes as a string: /proc files are read whole. */
static int
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* Read what /proc/self, /proc/stat and getrlimit tell into *p; each have_*
 * says whether its part could be read. */
void
procstat_read(struct procstat *p)
{
	char buf[4096];
	long ticks = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);

	memset(p, 0, sizeof *p);

	/* The comm field may hold spaces and parentheses: fields start after
	 * the last ')'. Field 3 (state) is the first one there. */
	if (ticks > 0 && page > 0 && read_file("/proc/self/stat", buf, sizeof buf) == 0) {
		char *q = strrchr(buf, ')');
		unsigned long long utime, stime, start, vsize;
		long long rss;
		if (q && sscanf(q + 1,
		    " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
		    "%*d %*d %llu %llu %lld", &utime, &stime, &start, &vsize, &rss) == 5) {
			double btime = -1;
			char sbuf[16384];
			/* starttime is in ticks since boot; btime in /proc/stat
			 * turns it into a wall-clock time, as the Go client does. */
			if (read_file("/proc/stat", sbuf, sizeof sbuf) == 0) {
				char *b = strstr(sbuf, "\nbtime ");
				if (b)
					btime = strtod(b + 7, NULL);
			}
			if (btime >= 0) {
				p->have_stat = 1;
				p->cpu_seconds = (double)(utime + stime) / (double)ticks;
				p->start_time = btime + (double)start / (double)ticks;
				p->vsize = vsize;
				p->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
			}
		}
	}

	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		uint64_t n = 0;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		p->have_fds = 1;
		p->open_fds = n;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		p->have_max_fds = 1;
		p->max_fds = (uint64_t)rl.rlim_cur;
	}
}
