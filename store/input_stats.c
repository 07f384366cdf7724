/*
 * input_stats.c - names and copies of the per-input self-metrics (see
 * input_stats.h).
 */
#include "store/input_stats.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *
input_state_name(enum input_state s)
{
	switch (s) {
	case INPUT_STATE_WAITING: return "waiting";
	case INPUT_STATE_FOLLOWING: return "following";
	case INPUT_STATE_ERROR: return "error";
	case INPUT_STATE_EOF: return "eof";
	}
	return "unknown";
}

void
input_status_copy(struct input_status *dst, const struct input_status *src)
{
#define COPY(field) atomic_store_explicit(&dst->field, \
	atomic_load_explicit(&src->field, memory_order_relaxed), memory_order_relaxed)
	COPY(state);
	COPY(lines);
	COPY(bytes);
	COPY(overlong);
	COPY(rotations);
	COPY(truncations);
	COPY(open_errors);
	COPY(dropped_fragments);
	COPY(last_read_unix);
	COPY(files);
	COPY(files_left_out);
#undef COPY
}

/* ---- the files of a glob ------------------------------------------------ */

struct input_files *
input_files_new(int n)
{
	struct input_files *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	if (n > 0 && (t->slot = calloc((size_t)n, sizeof *t->slot)) == NULL) {
		free(t);
		return NULL;
	}
	t->nslots = n;
	return t;
}

void
input_files_free(struct input_files *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < t->nslots; i++) {
		free((void *)atomic_load_explicit(&t->slot[i].path, memory_order_relaxed));
		free((void *)t->slot[i].spare);
	}
	free(t->slot);
	free(t);
}

/* The writer's half of the seqlock: odd before the slot changes, even
 * (release) after, so a reader that saw the same even count before and
 * after its copy saw none of the change. */
static uint32_t
write_begin(struct input_file_slot *sl)
{
	uint32_t s = atomic_load_explicit(&sl->seq, memory_order_relaxed);

	atomic_store_explicit(&sl->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return s;
}

static void
write_end(struct input_file_slot *sl, uint32_t s)
{
	atomic_store_explicit(&sl->seq, s + 2, memory_order_release);
}

struct input_status *
input_files_claim(struct input_files *t, const char *path, const struct input_status *init)
{
	size_t need = strlen(path) + 1;
	struct input_file_slot *sl = NULL;
	_Atomic unsigned char *buf;

	if (t == NULL || need > (size_t)PATH_MAX)
		return NULL;
	for (int i = 0; i < t->nslots && sl == NULL; i++)
		if (!atomic_load_explicit(&t->slot[i].used, memory_order_relaxed))
			sl = &t->slot[i];
	if (sl == NULL)
		return NULL;
	buf = atomic_load_explicit(&sl->path, memory_order_relaxed);
	if (sl->cap < need) {
		/* At most one growth per slot (small, then PATH_MAX), so the
		 * buffer a reader may still hold is the one kept in spare. */
		size_t cap = need <= INPUT_FILE_PATH_SMALL ? INPUT_FILE_PATH_SMALL : (size_t)PATH_MAX;
		_Atomic unsigned char *nb = calloc(cap, 1);
		if (nb == NULL)
			return NULL;
		for (size_t k = 0; k < need; k++)
			atomic_store_explicit(&nb[k], (unsigned char)path[k], memory_order_relaxed);
		uint32_t s = write_begin(sl);
		input_status_copy(&sl->st, init);
		/* Release: a reader that sees the new buffer sees its bytes. */
		atomic_store_explicit(&sl->path, nb, memory_order_release);
		atomic_store_explicit(&sl->used, 1, memory_order_relaxed);
		write_end(sl, s);
		sl->spare = buf;
		sl->cap = cap;
		return &sl->st;
	}
	uint32_t s = write_begin(sl);
	for (size_t k = 0; k < need; k++)
		atomic_store_explicit(&buf[k], (unsigned char)path[k], memory_order_relaxed);
	input_status_copy(&sl->st, init);
	atomic_store_explicit(&sl->used, 1, memory_order_relaxed);
	write_end(sl, s);
	return &sl->st;
}

void
input_files_release(struct input_files *t, struct input_status *st)
{
	for (int i = 0; t != NULL && i < t->nslots; i++) {
		struct input_file_slot *sl = &t->slot[i];
		if (&sl->st != st)
			continue;
		uint32_t s = write_begin(sl);
		atomic_store_explicit(&sl->used, 0, memory_order_relaxed);
		write_end(sl, s);
		return;
	}
}

/* A scrape that keeps meeting a slot in change gives up on it after this
 * many tries (the writer changes a slot in well under a microsecond). */
#define READ_TRIES 64

int
input_files_read(const struct input_files *t, int i, char *path, size_t pathlen,
    struct input_status *st)
{
	const struct input_file_slot *sl;

	if (t == NULL || i < 0 || i >= t->nslots || pathlen == 0)
		return 0;
	sl = &t->slot[i];
	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint32_t s1 = atomic_load_explicit(&sl->seq, memory_order_acquire);
		int used;
		if (s1 & 1)
			continue;
		used = atomic_load_explicit(&sl->used, memory_order_relaxed);
		if (used) {
			_Atomic unsigned char *p = atomic_load_explicit(&sl->path, memory_order_acquire);
			size_t k = 0;
			for (; p != NULL && k + 1 < pathlen; k++)
				if ((path[k] = (char)atomic_load_explicit(&p[k], memory_order_relaxed)) == '\0')
					break;
			path[k] = '\0';
			input_status_copy(st, &sl->st);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&sl->seq, memory_order_relaxed) == s1)
			return used;
	}
	return 0;
}
