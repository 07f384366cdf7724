/*
 * input_stats.c - names and copies of the per-input self-metrics (see
 * input_stats.h).
 */
#include "store/input_stats.h"

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
