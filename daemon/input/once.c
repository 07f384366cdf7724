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

int
once_read(const char *path, size_t max_line, const struct envelope_config *envelope,
    tail_line_fn fn, void *ctx, int source, struct input_status *st, char *err, size_t errlen)
{
	struct once_ctx c = { .fn = fn, .ctx = ctx, .source = source, .envelope = envelope };
	struct stat sb;
	struct lb lb;
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
	if (lb_init(&lb, max_line) < 0) {
		snprintf(err, errlen, "cannot read %s: out of memory", path);
		gzclose(gz);
		return -1;
	}
	/* zlib reads a plain file straight into our buffer only when we ask
	 * for at least twice its own buffer size; otherwise it copies every
	 * byte through that buffer. The line buffer offers up to 64 KiB, so a
	 * 16 KiB zlib buffer saves the copy (5% of --once's time) and is still
	 * plenty for inflating gzip. */
	(void)gzbuffer(gz, 16 * 1024);
	atomic_store(&st->state, INPUT_STATE_FOLLOWING);

	for (;;) {
		size_t avail;
		char *space = lb_space(&lb, &avail);
		unsigned want = avail > (1u << 30) ? 1u << 30 : (unsigned)avail;
		int n = gzread(gz, space, want);
		if (n < 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);
			snprintf(err, errlen, "cannot read %s: %s", path,
			    zerr == Z_ERRNO ? strerror(errno) : msg);
			rc = -1;
			break;
		}
		if (n == 0) {
			/* gzread reports a gzip stream cut short only through
			 * gzerror, after returning 0. */
			int zerr;
			const char *msg = gzerror(gz, &zerr);
			if (zerr != Z_OK) {
				snprintf(err, errlen, "cannot read %s: %s", path, msg);
				rc = -1;
			}
			break;
		}
		bytes += (uint64_t)n;
		/* Decided per chunk: the first line of an auto-mode file goes
		 * through envelope_line, which decides the file's kind; from
		 * the next chunk on, a plain file's lines skip it. */
		lb_commit(&lb, (size_t)n,
		    envelope_is_plain(&c.env, envelope) ? pass_plain : pass_line, &c);
	}

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
