/*
 * once.h - read a whole log, plain or gzip-compressed, from its beginning to
 * EOF (--once mode: analysing old logs, and how tests check counts).
 */
#ifndef ONCE_H
#define ONCE_H

#include <stddef.h>

#include "daemon/input/envelope.h"
#include "daemon/input/tailer.h"

/* Read `path` ("-" = standard input) to EOF and call fn for every complete
 * line, exactly as the tailer would: same splitter, same limits, and a last
 * line without its newline is not counted (it is counted in
 * st->dropped_fragments), so --once over a file gives the same counts as the
 * daemon following it. Container envelopes are taken off as the tailer
 * does (envelope.h; NULL: none). Counts lines, bytes and overlong lines in *st. Returns 0, or -1 with a
 * one-line reason naming the path in err. */
int once_read(const char *path, size_t max_line, const struct envelope_config *envelope,
    tail_line_fn fn, void *ctx, int source, struct input_status *st, char *err, size_t errlen);

#endif
