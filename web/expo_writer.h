/*
 * expo_writer.h - write an exposition in Prometheus text format 0.0.4 or
 * OpenMetrics 1.0.0: family headers, label sets, samples, counters and
 * histograms, each in the form the chosen format requires.
 *
 * The writer knows the formats, not the families: web/expo.c says what to
 * write, this says how. Every function appends to the writer's output and
 * returns 0, or -1 on allocation failure (the output is then valid but
 * incomplete, and the render fails).
 */
#ifndef WEB_EXPO_WRITER_H
#define WEB_EXPO_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

enum expo_format {
	EXPO_FMT_TEXT = 0,      /* Prometheus text format 0.0.4 */
	EXPO_FMT_OPENMETRICS,   /* OpenMetrics 1.0.0 */
};

/* What one rendering needs besides the counters: the output and its
 * format, a scratch buffer for the label set of the sample being written
 * (reused for every sample, freed by the caller with strbuf_free), and the
 * time the fixed counters started (their OpenMetrics _created). */
struct expo_writer {
	struct strbuf *out;
	enum expo_format fmt;
	struct strbuf labels;
	double start;
};

/* Append a label value escaped for the text format: backslash, double quote
 * and newline escaped; invalid UTF-8 sequences replaced with U+FFFD. */
int expo_escape_label(struct strbuf *out, const char *s, size_t len);

/* The family header: # HELP and # TYPE (and # UNIT in OpenMetrics when the
 * name ends in a base unit). name is the text 0.0.4 sample name (a
 * counter's ends in _total); type is counter, gauge, histogram or info
 * (written as gauge in text 0.0.4). */
int expo_family(struct expo_writer *e, const char *name, const char *type,
    const char *help);

/* Start a label set for the next sample. Inline: it runs once per series. */
static inline void
expo_labels_reset(struct expo_writer *e)
{
	e->labels.len = 0;
	if (e->labels.data)
		e->labels.data[0] = '\0';
}

/* Add name="value" (escaped) to the label set. */
int expo_label(struct expo_writer *e, const char *name, const char *value);

/* A sample's name and label set, up to the space before its value. */
int expo_sample_head(struct expo_writer *e, const char *name, size_t namelen);

/* A whole sample line with the current label set. */
int expo_sample_u64(struct expo_writer *e, const char *name, uint64_t v);
int expo_sample_double(struct expo_writer *e, const char *name, double v);

/* A counter sample with the current label set; in OpenMetrics followed by
 * its _created sample (created, in Unix seconds). */
int expo_counter(struct expo_writer *e, const char *name, uint64_t v, double created);

/* A histogram's samples under the current label set: buckets[] holds the
 * per-bucket counts of nbounds bounds and +Inf; created: write _created
 * (e->start) in OpenMetrics. */
int expo_histogram(struct expo_writer *e, const char *name, const double *bounds,
    unsigned nbounds, const uint64_t *buckets, double sum, int created);

/* The end of the exposition (OpenMetrics's # EOF). */
int expo_end(struct expo_writer *e);

#endif
