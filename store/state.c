/*
 * state.c - the state file's envelope and its atomic replacement; what
 * goes into the body is decided by its owners (agg_save, tail_set_positions)
 * and by daemon/persist.c, which orders the sections.
 */
#include "store/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/le64.h"

#define HEADER_LEN 32
/* A state file is a few KiB per thousand series; anything past this is not
 * one of ours, and is refused before it is read into memory. */
#define STATE_MAX_LEN ((size_t)256 << 20)

static void
reserve(struct state_buf *b, size_t more)
{
	size_t cap;
	unsigned char *p;

	if (b->oom || b->len + more <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL) {
		b->oom = 1;
		return;
	}
	b->data = p;
	b->cap = cap;
}

void
state_buf_reset(struct state_buf *b)
{
	b->len = 0;
	b->oom = 0;
}

void
state_buf_free(struct state_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}


void
state_put_u64(struct state_buf *b, uint64_t v)
{
	reserve(b, 8);
	if (b->oom)
		return;
	le64_put(b->data + b->len, v);
	b->len += 8;
}

void
state_put_bytes(struct state_buf *b, const void *p, size_t len)
{
	state_put_u64(b, len);
	reserve(b, len);
	if (b->oom || len == 0)
		return;
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

void
state_rd_init(struct state_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

uint64_t
state_get_u64(struct state_rd *r)
{
	uint64_t v;

	if (r->bad || r->len - r->off < 8) {
		r->bad = 1;
		return 0;
	}
	v = le64_get(r->p + r->off);
	r->off += 8;
	return v;
}

const void *
state_get_bytes(struct state_rd *r, size_t *len)
{
	uint64_t n = state_get_u64(r);
	const void *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		*len = 0;
		return NULL;
	}
	p = r->p + r->off;
	r->off += (size_t)n;
	*len = (size_t)n;
	return p;
}

static uint64_t
body_crc(const unsigned char *p, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes uInt lengths: feed big bodies in pieces. */
	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint64_t)crc;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory entry of the rename is only durable once the directory
 * itself is synced: without this a power cut can bring back the old file,
 * or none, after we told nobody but assumed the new one was there. */
static int
sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
state_write(const char *path, const struct state_buf *body, char *err, size_t errlen)
{
	unsigned char hdr[HEADER_LEN];
	char tmp[4096];
	int fd;

	if (body->oom) {
		snprintf(err, errlen, "out of memory building the state snapshot");
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		snprintf(err, errlen, "state file path too long");
		return -1;
	}
	memcpy(hdr, STATE_MAGIC, 8);
	le64_put(hdr + 8, STATE_VERSION);
	le64_put(hdr + 16, body->len);
	le64_put(hdr + 24, body_crc(body->data, body->len));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, hdr, sizeof hdr) < 0 || write_all(fd, body->data, body->len) < 0 ||
	    fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (sync_dir(path) < 0) {
		snprintf(err, errlen, "cannot sync the directory of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

enum state_read_result
state_read(const char *path, struct state_buf *body, char *err, size_t errlen)
{
	unsigned char hdr[HEADER_LEN];
	struct stat st;
	uint64_t version, len;
	ssize_t n;
	int fd;

	memset(body, 0, sizeof *body);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return STATE_READ_MISSING;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return STATE_READ_BAD;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		goto bad;
	}
	n = pread(fd, hdr, sizeof hdr, 0);
	if (n != (ssize_t)sizeof hdr || memcmp(hdr, STATE_MAGIC, 8) != 0) {
		snprintf(err, errlen, "%s is not a maillog_exporter state file (no %s header)",
		    path, STATE_MAGIC);
		goto bad;
	}
	version = le64_get(hdr + 8);
	len = le64_get(hdr + 16);
	if (version < STATE_VERSION_MIN || version > STATE_VERSION) {
		snprintf(err, errlen, "%s has format version %ju, this exporter reads versions "
		    "%d to %d", path, (uintmax_t)version, STATE_VERSION_MIN, STATE_VERSION);
		goto bad;
	}
	if (len > STATE_MAX_LEN || (uint64_t)st.st_size != HEADER_LEN + len) {
		snprintf(err, errlen, "%s is truncated or has trailing bytes (%jd bytes, header "
		    "says %ju)", path, (intmax_t)st.st_size, (uintmax_t)(HEADER_LEN + len));
		goto bad;
	}
	if ((body->data = malloc(len ? (size_t)len : 1)) == NULL) {
		snprintf(err, errlen, "out of memory reading %s", path);
		goto bad;
	}
	body->cap = (size_t)len;
	for (size_t got = 0; got < len; got += (size_t)n) {
		n = pread(fd, body->data + got, (size_t)len - got, (off_t)(HEADER_LEN + got));
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			snprintf(err, errlen, "cannot read %s: %s", path,
			    n < 0 ? strerror(errno) : "unexpected end of file");
			goto bad;
		}
	}
	body->len = (size_t)len;
	body->version = (unsigned)version;
	if (body_crc(body->data, body->len) != le64_get(hdr + 24)) {
		snprintf(err, errlen, "%s is corrupt (checksum mismatch)", path);
		goto bad;
	}
	close(fd);
	return STATE_READ_OK;
bad:
	close(fd);
	state_buf_free(body);
	return STATE_READ_BAD;
}
