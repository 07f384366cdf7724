/*
 * aggregate_state.h - the counter store (aggregate.h) to and from a state
 * file, and the copy of it the web thread renders under --state.file.
 */
#ifndef AGGREGATE_STATE_H
#define AGGREGATE_STATE_H

#include <stddef.h>

struct agg;
struct state_buf;
struct state_rd;

/*
 * Append every counter, label name and series of a to b (state.h body
 * format), for --state.file. Call from the writer thread, between two
 * lines, so the counters match the file offsets saved beside them.
 */
void agg_save(const struct agg *a, struct state_buf *b);

/*
 * Restore what agg_save wrote into a store just made by agg_new_opts with
 * the same options, before anything is counted. Returns 0, or -1 with a
 * reason in err (other options, another layout, an inconsistent section);
 * the store is then half filled and must be freed, never used: the caller
 * makes a fresh one, so a bad file is never half loaded.
 */
int agg_load(struct agg *a, struct state_rd *r, char *err, size_t errlen);

/*
 * Copy every counter of src into dst, made with the same options: the
 * copy the web thread renders when --state.file is on, so a scrape shows
 * only counts already on disk. One writer of dst (the main thread); the
 * web thread may read dst meanwhile and then sees each counter either at
 * its old or its new value, both of them persisted.
 */
void agg_publish(struct agg *dst, const struct agg *src);


#endif
