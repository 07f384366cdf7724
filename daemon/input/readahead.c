/*
 * readahead.c - a reader thread and a ring of blocks (readahead.h).
 *
 * One mutex guards the ring's indexes; the blocks themselves are handed
 * over whole: the reader writes a block only while it is not counted as
 * filled, the caller reads it only while it is, and the mutex orders the
 * two. A hand-over per 64 KiB block (a lock on each side, one wake-up at
 * most) costs nothing next to parsing the block's three hundred lines.
 */
#include "daemon/input/readahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ra_slot {
	char *data;
	int len;          /* > 0 bytes, 0 end of input, -1 error (in err) */
	char err[160];
};

struct readahead {
	gzFile gz;
	int threaded;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t filled_cv; /* the reader filled a block */
	pthread_cond_t freed_cv;  /* the caller gave one back, or stop */
	unsigned head;            /* next block the reader fills */
	unsigned tail;            /* next block the caller takes */
	unsigned filled;          /* blocks filled and not given back */
	int holding;              /* the caller holds block tail */
	int ended;                /* ra_next returned 0 or -1: the reader is done */
	int stop;
	struct ra_slot slot[RA_BLOCKS];
	char mem[];               /* RA_BLOCKS blocks of RA_BLOCK_SIZE (1 inline) */
};

/* One read into s; what gzread and gzerror say, made into s->len/s->err
 * here, in the reading thread, where errno belongs. */
static void
fill(gzFile gz, struct ra_slot *s)
{
	int zerr;
	const char *msg;
	int n = gzread(gz, s->data, RA_BLOCK_SIZE);

	s->len = n < 0 ? -1 : n;
	if (n > 0)
		return;
	/* gzread reports a gzip stream cut short only through gzerror,
	 * after returning 0. */
	msg = gzerror(gz, &zerr);
	if (n < 0 || zerr != Z_OK) {
		snprintf(s->err, sizeof s->err, "%s", zerr == Z_ERRNO ? strerror(errno) : msg);
		s->len = -1;
	}
}

static void *
reader(void *p)
{
	struct readahead *ra = p;

	for (;;) {
		struct ra_slot *s;

		pthread_mutex_lock(&ra->mu);
		while (ra->filled == RA_BLOCKS && !ra->stop)
			pthread_cond_wait(&ra->freed_cv, &ra->mu);
		if (ra->stop) {
			pthread_mutex_unlock(&ra->mu);
			return NULL;
		}
		s = &ra->slot[ra->head];
		pthread_mutex_unlock(&ra->mu);

		fill(ra->gz, s);

		pthread_mutex_lock(&ra->mu);
		ra->head = (ra->head + 1) % RA_BLOCKS;
		ra->filled++;
		pthread_cond_signal(&ra->filled_cv);
		pthread_mutex_unlock(&ra->mu);
		if (s->len <= 0)
			return NULL;
	}
}

struct readahead *
ra_start(gzFile gz, int threaded)
{
	/* Read inline, one block is all there is to fill. */
	unsigned blocks = threaded ? RA_BLOCKS : 1;
	struct readahead *ra = calloc(1, sizeof *ra + (size_t)blocks * RA_BLOCK_SIZE);

	if (ra == NULL)
		return NULL;
	ra->gz = gz;
	for (unsigned i = 0; i < blocks; i++)
		ra->slot[i].data = ra->mem + (size_t)i * RA_BLOCK_SIZE;
	if (!threaded)
		return ra;
	if (pthread_mutex_init(&ra->mu, NULL) != 0)
		return ra;
	if (pthread_cond_init(&ra->filled_cv, NULL) != 0) {
		pthread_mutex_destroy(&ra->mu);
		return ra;
	}
	if (pthread_cond_init(&ra->freed_cv, NULL) != 0) {
		pthread_cond_destroy(&ra->filled_cv);
		pthread_mutex_destroy(&ra->mu);
		return ra;
	}
	if (pthread_create(&ra->thread, NULL, reader, ra) != 0) {
		pthread_cond_destroy(&ra->freed_cv);
		pthread_cond_destroy(&ra->filled_cv);
		pthread_mutex_destroy(&ra->mu);
		return ra;
	}
	ra->threaded = 1;
	return ra;
}

int
ra_threaded(const struct readahead *ra)
{
	return ra->threaded;
}

int
ra_next(struct readahead *ra, const char **data, size_t *len, char *err, size_t errlen)
{
	struct ra_slot *s;

	if (ra->ended) {
		*data = NULL;
		*len = 0;
		return 0;
	}
	if (!ra->threaded) {
		s = &ra->slot[0];
		fill(ra->gz, s);
	} else {
		pthread_mutex_lock(&ra->mu);
		if (ra->holding) {
			ra->holding = 0;
			ra->tail = (ra->tail + 1) % RA_BLOCKS;
			ra->filled--;
			pthread_cond_signal(&ra->freed_cv);
		}
		while (ra->filled == 0)
			pthread_cond_wait(&ra->filled_cv, &ra->mu);
		s = &ra->slot[ra->tail];
		ra->holding = 1;
		pthread_mutex_unlock(&ra->mu);
	}
	*data = s->data;
	*len = s->len > 0 ? (size_t)s->len : 0;
	ra->ended = s->len <= 0;
	if (s->len < 0) {
		snprintf(err, errlen, "%s", s->err);
		return -1;
	}
	return s->len > 0;
}

void
ra_stop(struct readahead *ra)
{
	if (ra == NULL)
		return;
	if (ra->threaded) {
		pthread_mutex_lock(&ra->mu);
		ra->stop = 1;
		pthread_cond_signal(&ra->freed_cv);
		pthread_mutex_unlock(&ra->mu);
		pthread_join(ra->thread, NULL);
		pthread_cond_destroy(&ra->freed_cv);
		pthread_cond_destroy(&ra->filled_cv);
		pthread_mutex_destroy(&ra->mu);
	}
	free(ra);
}
