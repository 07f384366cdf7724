/*
 * spool.c - count queued messages by walking spool directories.
 */
#include "daemon/queue/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is the entry a regular file (not a symlink, socket, FIFO or directory)?
 * d_type when the filesystem fills it in, else fstatat without following. */
static int
entry_type(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return S_ISREG(st.st_mode) ? DT_REG : S_ISDIR(st.st_mode) ? DT_DIR : DT_UNKNOWN;
}

/* Count regular files under the open directory dfd (consumed), descending
 * depth more levels. */
static int
count_dir(int dfd, int depth, const _Atomic int *stop, uint64_t *count, const char *path,
    char *err, size_t errlen)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
		close(dfd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (stop != NULL && *stop) {
			snprintf(err, errlen, "%.300s: abandoned at shutdown", path);
			rc = -1;
			break;
		}
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		int type = entry_type(dirfd(d), de);
		if (type == DT_REG) {
			(*count)++;
		} else if (type == DT_DIR && depth > 0) {
			int sub = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				if (errno == ENOENT)
					continue;   /* removed meanwhile */
				snprintf(err, errlen, "%.300s/%.100s: %s", path, de->d_name,
				    strerror(errno));
				rc = -1;
				break;
			}
			if (count_dir(sub, depth - 1, stop, count, path, err, errlen) < 0) {
				rc = -1;
				break;
			}
		}
		errno = 0;
	}
	if (rc == 0 && errno != 0) {
		snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
		rc = -1;
	}
	closedir(d);
	return rc;
}

int
spool_count_files(const char *dir, const char *queue, const _Atomic int *stop,
    uint64_t *count, char *err, size_t errlen)
{
	char path[4200];
	int dfd;

	snprintf(path, sizeof path, "%s/%s", dir, queue);
	*count = 0;
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
		return -1;
	}
	return count_dir(dfd, SPOOL_MAX_DEPTH, stop, count, path, err, errlen);
}

/* The line at buf[*off..len) without its newline: returns its length and
 * moves *off past the newline, or -1 if there is no complete line. */
static long
next_line(const char *buf, size_t len, size_t *off, const char **line)
{
	const char *nl;

	if (*off >= len || (nl = memchr(buf + *off, '\n', len - *off)) == NULL)
		return -1;
	*line = buf + *off;
	long n = nl - (buf + *off);
	*off += (size_t)n + 1;
	return n;
}

/* The length stated at the end of an "-aclc NAME LEN" / "-acl N LEN" line. */
static long
acl_length(const char *line, long n)
{
	long end = n, start;
	char num[16];

	while (end > 0 && line[end - 1] == ' ')
		end--;
	start = end;
	while (start > 0 && line[start - 1] >= '0' && line[start - 1] <= '9')
		start--;
	if (start == end || end - start >= (long)sizeof num || start == 0 || line[start - 1] != ' ')
		return -1;
	memcpy(num, line + start, (size_t)(end - start));
	num[end - start] = '\0';
	return strtol(num, NULL, 10);
}

int
spool_exim_h_frozen(const char *buf, size_t len)
{
	size_t off = 0;
	const char *line;
	long n;
	int frozen = 0;

	/* The file's own name, "<message id>-H". */
	if ((n = next_line(buf, len, &off, &line)) < 3 || line[n - 2] != '-' || line[n - 1] != 'H')
		return -1;
	/* login uid gid; <sender>; time and warning count. */
	if (next_line(buf, len, &off, &line) < 0)
		return -1;
	if ((n = next_line(buf, len, &off, &line)) < 2 || line[0] != '<' || line[n - 1] != '>')
		return -1;
	if ((n = next_line(buf, len, &off, &line)) < 1 || line[0] < '0' || line[0] > '9')
		return -1;
	/* The flags: every line starting with '-', up to the non-recipients
	 * tree ("XX" when there is none). */
	for (;;) {
		if ((n = next_line(buf, len, &off, &line)) < 0)
			return -1;
		if (n == 0 || line[0] != '-')
			return frozen;
		if (n > 8 && memcmp(line, "-frozen ", 8) == 0 && line[8] >= '0' && line[8] <= '9')
			frozen = 1;
		else if (n > 5 && memcmp(line, "-acl", 4) == 0 &&
		    (line[4] == 'c' || line[4] == 'm' || line[4] == ' ')) {
			/* Skip the value and the newline after it (spool_in.c reads
			 * count + 1 bytes). */
			long v = acl_length(line, n);
			if (v < 0 || (size_t)v + 1 > len - off)
				return -1;
			off += (size_t)v + 1;
		}
	}
}

/* Count the *-H regular files of one directory; read each for -frozen. */
static int
count_exim_dir(int dfd, const char *path, int depth, const _Atomic int *stop,
    uint64_t *messages, uint64_t *frozen, char *buf, char *err, size_t errlen)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		int type;

		if (stop != NULL && *stop) {
			snprintf(err, errlen, "%.300s: abandoned at shutdown", path);
			rc = -1;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		type = entry_type(dirfd(d), de);
		if (type == DT_DIR && depth > 0 && n == 1) {
			/* split_spool_directory: input/<6th character of the id>/ */
			int sub = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				continue;
			if (count_exim_dir(sub, path, depth - 1, stop, messages, frozen, buf,
			    err, errlen) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (type != DT_REG || n < 3 || strcmp(de->d_name + n - 2, "-H") != 0)
			continue;
		(*messages)++;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;   /* delivered meanwhile, or unreadable: not frozen */
		size_t got = 0;
		ssize_t r;
		while (got < SPOOL_EXIM_H_READ &&
		    (r = read(fd, buf + got, SPOOL_EXIM_H_READ - got)) > 0)
			got += (size_t)r;
		close(fd);
		if (spool_exim_h_frozen(buf, got) == 1)
			(*frozen)++;
	}
	closedir(d);
	return rc;
}

int
spool_count_exim(const char *spool, const _Atomic int *stop, uint64_t *messages,
    uint64_t *frozen, char *err, size_t errlen)
{
	char path[4200];
	char *buf;
	int dfd, rc;

	*messages = *frozen = 0;
	snprintf(path, sizeof path, "%s/input", spool);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%.300s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(SPOOL_EXIM_H_READ)) == NULL) {
		close(dfd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = count_exim_dir(dfd, path, 1, stop, messages, frozen, buf, err, errlen);
	free(buf);
	return rc;
}
