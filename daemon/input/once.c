/*
 * once.c - read a whole log to EOF for --once.
 *
 * zlib's gzread reads gzip members and passes plain files through
 * unchanged, so one loop serves mail.log, mail.log.1 and mail.log.2.gz, and
 * even a concatenation of gzip members, as logrotate's delaycompress can
 * leave behind. Using zlib rather than piping through gzip keeps --once free
 * of shell-outs.
 */
#include "daemon/input/once.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "daemon/input/linebuf.h"
#include "daemon/input/readahead.h"

struct once_ctx {
	tail_line_fn fn;
	void *ctx;
	int source;
	uint64_t lines;
	const struct envelope_config *envelope;
	struct envelope env;
};

static void
pass_line(void *p, const char *line, size_t len)
{
	struct once_ctx *c = p;
	c->lines++;
	envelope_line(&c->env, c->envelope, line, len, c->fn, c->ctx, c->source);
}

/* The same for a file known to be plain (envelope_is_plain): the line as
 * it is, without envelope_line's frame. */
static void
pass_plain(void *p, const char *line, size_t len)
{
	struct once_ctx *c = p;
	c->lines++;
	c->fn(c->ctx, line, len, c->source);
}

/*
 * Whether the file starts as a gzip member does (RFC 1952: 1f 8b), as zlib
 * decides it. Only then does the reading get a thread of its own: inflating
 * costs about as much as parsing, so the two overlap well, taking a third
 * off a .gz's wall time. A plain file's read(2) is a fifth of the time,
 * and handing its blocks from one core to the other cost more than that in
 * the parser's cache misses (measured: 1.14 times the CPU for 5 % less
 * wall time). A pipe cannot be peeked at without consuming it: read inline.
 */
static int
is_gzip(int fd)
{
	unsigned char magic[2];

	return pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
	    magic[0] == 0x1f && magic[1] == 0x8b;
}

int
once_read(const char *path, size_t max_line, const struct envelope_config *envelope,
    tail_line_fn fn, void *ctx, int source, struct input_status *st, char *err, size_t errlen)
{
	struct once_ctx c = { .fn = fn, .ctx = ctx, .source = source, .envelope = envelope };
	struct stat sb;
	struct lb lb;
	struct readahead *ra = NULL;
	size_t avail;
	gzFile gz;
	int fd, rc = 0;
	uint64_t bytes = 0;

	if (strcmp(path, "-") == 0)
		fd = dup(STDIN_FILENO);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		atomic_store(&st->state, INPUT_STATE_ERROR);
		atomic_fetch_add(&st->open_errors, 1);
		return -1;
	}
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "cannot read %s: it is a directory", path);
		close(fd);
		atomic_store(&st->state, INPUT_STATE_ERROR);
		atomic_fetch_add(&st->open_errors, 1);
		return -1;
	}
	if ((gz = gzdopen(fd, "rb")) == NULL) {
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		close(fd);
		return -1;
	}
	/* zlib reads a plain file straight into our block only when we ask
	 * for at least twice its own buffer size; otherwise it copies every
	 * byte through that buffer. Blocks are 64 KiB, so a 16 KiB zlib
	 * buffer saves the copy (5% of --once's time) and is still plenty for
	 * inflating gzip. Set before the reader thread's first read, as zlib
	 * requires. */
	(void)gzbuffer(gz, 16 * 1024);
	/* The splitter's own buffer holds only fragments between blocks;
	 * allocated here so that a failure is an error, not a lost line. */
	if (lb_init(&lb, max_line) < 0 || lb_space(&lb, &avail) == NULL ||
	    (ra = ra_start(gz, is_gzip(fd))) == NULL) {
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		lb_fini(&lb);
		gzclose(gz);
		return -1;
	}
	atomic_store(&st->state, INPUT_STATE_FOLLOWING);

	for (;;) {
		const char *block;
		size_t n;
		char why[160];
		int got = ra_next(ra, &block, &n, why, sizeof why);

		if (got < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, why);
			rc = -1;
			break;
		}
		if (got == 0)
			break;
		bytes += n;
		/* Decided per block: the first line of an auto-mode file goes
		 * through envelope_line, which decides the file's kind; from
		 * the next block on, a plain file's lines skip it. */
		lb_commit_from(&lb, block, n,
		    envelope_is_plain(&c.env, envelope) ? pass_plain : pass_line, &c);
	}
	ra_stop(ra);

	/* Same rule as the daemon: a line counts once its newline has arrived. */
	if (lb_has_fragment(&lb))
		atomic_fetch_add(&st->dropped_fragments, 1);
	atomic_fetch_add(&st->lines, c.lines);
	atomic_fetch_add(&st->bytes, bytes);
	atomic_fetch_add(&st->overlong, lb.overlong);
	if (c.lines > 0)
		atomic_store(&st->last_read_unix, (int64_t)time(NULL));
	atomic_store(&st->state, rc == 0 ? INPUT_STATE_EOF : INPUT_STATE_ERROR);
	lb_fini(&lb);
	envelope_fini(&c.env);
	gzclose(gz);
	return rc;
}
