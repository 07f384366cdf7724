/*
 * expo_writer.c - the writing of an exposition, in Prometheus text format
 * 0.0.4 or OpenMetrics 1.0.0: family headers, label sets, samples,
 * counters and histograms, and the escaping of label values.
 *
 * The two formats differ only where OpenMetrics requires it: a counter
 * family is named without _total and each counter sample is followed by
 * its _created (when it started counting), *_info families are of type
 * info, families in base units state their # UNIT, HELP escapes double
 * quotes, and the text ends with # EOF. Those differences live here and
 * nowhere else; web/expo.c says which families and series to write.
 */
#include "web/expo_writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/utf8.h"

/*
 * Append s[0..len) as the inside of a quoted label value: backslash, double
 * quote and newline escaped as the 0.0.4 format requires, and every
 * ill-formed UTF-8 subpart replaced by U+FFFD. Label values come from
 * remote servers by way of the mail log, which is not UTF-8 by contract;
 * Prometheus rejects a whole scrape over one bad byte, so this is where a
 * hostile client's bytes are neutralised. Returns 0 or -1 (out of memory).
 */
int
expo_escape_label(struct strbuf *out, const char *s, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd";   /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	/* Copy runs of bytes that need nothing in one append; only the three
	 * escapes and the invalid bytes break a run. */
	while (i < len) {
		unsigned char c = p[i];
		const char *esc = NULL;
		size_t esclen = 0, skip = 1;

		if (c == '\\') {
			esc = "\\\\";
			esclen = 2;
		} else if (c == '"') {
			esc = "\\\"";
			esclen = 2;
		} else if (c == '\n') {
			esc = "\\n";
			esclen = 2;
		} else if (c >= 0x80) {
			size_t bad = 0, n = utf8_seq(p + i, len - i, &bad);
			if (n) {
				i += n;
				continue;
			}
			esc = replacement;
			esclen = 3;
			skip = bad;
		} else {
			i++;
			continue;
		}
		if (strbuf_append(out, s + run, i - run) < 0 ||
		    strbuf_append(out, esc, esclen) < 0)
			return -1;
		i += skip;
		run = i;
	}
	return strbuf_append(out, s + run, i - run);
}

/* Append a string literal without counting its length by hand. */
#define APPEND_LIT(out, lit) strbuf_append((out), (lit), sizeof(lit) - 1)

static int
escape_str(struct strbuf *out, const char *s)
{
	return expo_escape_label(out, s, strlen(s));
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* HELP text: text 0.0.4 escapes backslash and newline; OpenMetrics also
 * the double quote. Our texts hold no backslash or newline, but quotes. */
static int
help_text(struct expo_writer *e, const char *help)
{
	const char *q;

	if (e->fmt == EXPO_FMT_TEXT)
		return strbuf_append(e->out, help, strlen(help));
	while ((q = strchr(help, '"')) != NULL) {
		if (strbuf_append(e->out, help, (size_t)(q - help)) < 0 ||
		    APPEND_LIT(e->out, "\\\"") < 0)
			return -1;
		help = q + 1;
	}
	return strbuf_append(e->out, help, strlen(help));
}

/*
 * The family header. name is the sample name of text 0.0.4 (a counter's
 * ends in _total). OpenMetrics names the family without _total (and an
 * info family without _info), and states the unit when the name ends in
 * one of the base units we use.
 */
int
expo_family(struct expo_writer *e, const char *name, const char *type, const char *help)
{
	char fam[128];
	const char *omtype = type;
	size_t n = strlen(name);

	if (e->fmt == EXPO_FMT_TEXT) {
		if (strcmp(type, "info") == 0)
			type = "gauge";
		return strbuf_printf(e->out, "# HELP %s ", name) < 0 ||
		    help_text(e, help) < 0 ||
		    strbuf_printf(e->out, "\n# TYPE %s %s\n", name, type) < 0 ? -1 : 0;
	}
	if (n >= sizeof fam)
		return -1;
	memcpy(fam, name, n + 1);
	if (strcmp(type, "counter") == 0 && has_suffix(fam, "_total"))
		fam[n - 6] = '\0';
	else if (strcmp(type, "info") == 0 && has_suffix(fam, "_info"))
		fam[n - 5] = '\0';
	if (strbuf_printf(e->out, "# TYPE %s %s\n", fam, omtype) < 0)
		return -1;
	if (has_suffix(fam, "_seconds") &&
	    strbuf_printf(e->out, "# UNIT %s seconds\n", fam) < 0)
		return -1;
	if (has_suffix(fam, "_bytes") &&
	    strbuf_printf(e->out, "# UNIT %s bytes\n", fam) < 0)
		return -1;
	return strbuf_printf(e->out, "# HELP %s ", fam) < 0 || help_text(e, help) < 0 ||
	    APPEND_LIT(e->out, "\n") < 0 ? -1 : 0;
}

/* Add name="value" (escaped) to the label set. */
int
expo_label(struct expo_writer *e, const char *name, const char *value)
{
	if (e->labels.len && APPEND_LIT(&e->labels, ",") < 0)
		return -1;
	if (strbuf_append(&e->labels, name, strlen(name)) < 0 ||
	    APPEND_LIT(&e->labels, "=\"") < 0 || escape_str(&e->labels, value) < 0 ||
	    APPEND_LIT(&e->labels, "\"") < 0)
		return -1;
	return 0;
}

int
expo_sample_head(struct expo_writer *e, const char *name, size_t namelen)
{
	if (strbuf_append(e->out, name, namelen) < 0)
		return -1;
	if (e->labels.len == 0)
		return APPEND_LIT(e->out, " ");
	return APPEND_LIT(e->out, "{") < 0 ||
	    strbuf_append(e->out, e->labels.data, e->labels.len) < 0 ||
	    APPEND_LIT(e->out, "} ") < 0 ? -1 : 0;
}

/* A float as Prometheus reads it back exactly enough: integers without a
 * fraction, everything else with 15 significant digits. */
static int
put_double(struct expo_writer *e, double v)
{
	char buf[64];
	int n;

	if (v == (double)(int64_t)v && v > -1e15 && v < 1e15)
		n = snprintf(buf, sizeof buf, "%" PRId64, (int64_t)v);
	else
		n = snprintf(buf, sizeof buf, "%.15g", v);
	return strbuf_append(e->out, buf, (size_t)n);
}

/* v and a newline, without printf: a big exposition is mostly these. */
int
expo_sample_u64(struct expo_writer *e, const char *name, uint64_t v)
{
	char buf[24];
	char *p = buf + sizeof buf;

	*--p = '\n';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (expo_sample_head(e, name, strlen(name)) < 0)
		return -1;
	return strbuf_append(e->out, p, (size_t)(buf + sizeof buf - p));
}

int
expo_sample_double(struct expo_writer *e, const char *name, double v)
{
	if (expo_sample_head(e, name, strlen(name)) < 0 || put_double(e, v) < 0)
		return -1;
	return APPEND_LIT(e->out, "\n");
}

/* A counter sample with the current label set; in OpenMetrics followed by
 * its _created sample (name without _total). */
int
expo_counter(struct expo_writer *e, const char *name, uint64_t v, double created)
{
	size_t n = strlen(name);
	char created_name[160];

	if (expo_sample_u64(e, name, v) < 0)
		return -1;
	if (e->fmt != EXPO_FMT_OPENMETRICS)
		return 0;
	if (has_suffix(name, "_total"))
		n -= 6;
	if (n + sizeof "_created" > sizeof created_name)
		return -1;
	memcpy(created_name, name, n);
	memcpy(created_name + n, "_created", sizeof "_created");
	return expo_sample_double(e, created_name, created);
}

/*
 * The samples of one histogram under the label set already built (mta,
 * ...): a _bucket per bound and +Inf, cumulative (buckets[] holds per-bucket
 * counts, nbounds + 1 of them), _sum, _count (the +Inf bucket, so the two
 * always agree) and, in OpenMetrics when created is set, _created.
 */
int
expo_histogram(struct expo_writer *e, const char *name, const double *bounds, unsigned nbounds,
    const uint64_t *buckets, double sum, int created)
{
	size_t base = e->labels.len;
	char sample[160];
	uint64_t cum = 0;

	if (strlen(name) + sizeof "_created" > sizeof sample)
		return -1;
	snprintf(sample, sizeof sample, "%s_bucket", name);
	for (unsigned b = 0; b <= nbounds; b++) {
		char le[32];
		if (b < nbounds)
			snprintf(le, sizeof le, "%g", bounds[b]);
		else
			strcpy(le, "+Inf");
		cum += buckets[b];
		if (expo_label(e, "le", le) < 0 || expo_sample_u64(e, sample, cum) < 0)
			return -1;
		/* Back to the base labels for the next bound. */
		e->labels.len = base;
		if (e->labels.data != NULL)
			e->labels.data[base] = '\0';
	}
	snprintf(sample, sizeof sample, "%s_sum", name);
	if (expo_sample_double(e, sample, sum) < 0)
		return -1;
	snprintf(sample, sizeof sample, "%s_count", name);
	if (expo_sample_u64(e, sample, cum) < 0)
		return -1;
	snprintf(sample, sizeof sample, "%s_created", name);
	return created && e->fmt == EXPO_FMT_OPENMETRICS ?
	    expo_sample_double(e, sample, e->start) : 0;
}

/* The end of the exposition: OpenMetrics's # EOF; nothing in text 0.0.4. */
int
expo_end(struct expo_writer *e)
{
	return e->fmt == EXPO_FMT_OPENMETRICS ? APPEND_LIT(e->out, "# EOF\n") : 0;
}
