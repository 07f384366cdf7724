/*
 * expo.c - the Prometheus text exposition (format 0.0.4) of everything the
 * exporter counts, plus the standard process_* families.
 *
 * The output is deterministic: families in a fixed order, series sorted, so
 * two renders of the same counters are byte-identical (tests compare whole
 * texts, and a diff of two scrapes shows only what moved). Rendering reads
 * the aggregator through agg_snapshot() and the sources through their
 * atomics; it takes no lock the tailer holds.
 */
#include "expo.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "build_config.h"
#include "mp.h"

/* Append len bytes to out, growing it by doubling (from 4 KiB: a small
 * exposition fits the first allocation). Returns 0, or -1 on allocation
 * failure with out unchanged. */
int
expo_buf_append(struct expo_buf *out, const char *s, size_t len)
{
	if (out->cap - out->len < len + 1) {
		size_t need = out->len + len + 1;
		size_t cap = out->cap ? out->cap : 4096;
		while (cap < need)
			cap *= 2;
		char *p = realloc(out->data, cap);
		if (p == NULL)
			return -1;
		out->data = p;
		out->cap = cap;
	}
	if (len)
		memcpy(out->data + out->len, s, len);
	out->len += len;
	/* Keep the text NUL-terminated (the grow step leaves room for it) so
	 * tests and callers can use it as a string. */
	out->data[out->len] = '\0';
	return 0;
}

/* printf into out. Formats into a stack buffer first, because nearly every
 * call is one short sample line; only longer output is formatted twice. */
int
expo_buf_printf(struct expo_buf *out, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return expo_buf_append(out, small, (size_t)n);

	char *big = malloc((size_t)n + 1);
	if (big == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = expo_buf_append(out, big, (size_t)n);
	free(big);
	return rc;
}

/* Free out's data and leave it empty and reusable. */
void
expo_buf_free(struct expo_buf *out)
{
	free(out->data);
	out->data = NULL;
	out->len = out->cap = 0;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 if the bytes
 * there are not one. *bad is set to the length of the maximal ill-formed
 * subpart (at least 1) when 0 is returned, so that "E2 82 41" becomes one
 * U+FFFD then "A", as Unicode §3.9 ("substitution of maximal subparts")
 * and every browser do. The ranges are Unicode Table 3-7: they exclude
 * overlong forms, UTF-16 surrogates and code points above U+10FFFF. */
static size_t
utf8_seq(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;      /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f;      /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;      /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f;      /* above U+10FFFF */
	} else {
		*bad = 1;           /* 80..C1 (stray continuation, overlong lead), F5..FF */
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/*
 * Append s[0..len) as the inside of a quoted label value: backslash, double
 * quote and newline escaped as the 0.0.4 format requires, and every
 * ill-formed UTF-8 subpart replaced by U+FFFD. Label values come from
 * remote servers by way of the mail log, which is not UTF-8 by contract;
 * Prometheus rejects a whole scrape over one bad byte, so this is where a
 * hostile client's bytes are neutralised. Returns 0 or -1 (out of memory).
 */
int
expo_escape_label(struct expo_buf *out, const char *s, size_t len)
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
		if (expo_buf_append(out, s + run, i - run) < 0 ||
		    expo_buf_append(out, esc, esclen) < 0)
			return -1;
		i += skip;
		run = i;
	}
	return expo_buf_append(out, s + run, i - run);
}

/* Append a string literal without counting its length by hand. */
#define APPEND_LIT(out, lit) expo_buf_append((out), (lit), sizeof(lit) - 1)

static int
escape_str(struct expo_buf *out, const char *s)
{
	return expo_escape_label(out, s, strlen(s));
}

/* "# HELP name text\n# TYPE name type\n". The texts are ours and contain
 * neither backslashes nor newlines, so they need no escaping. */
static int
family(struct expo_buf *out, const char *name, const char *type, const char *help)
{
	return expo_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Series order: mta name, then direction, class, code (0 = "" first,
 * "other" last because AGG_CODE_OVERFLOW is above every real code), then
 * the enhanced code numerically, so 5.7.9 sorts before 5.7.26. The name,
 * not the id, is compared because distinct ids can share a label value
 * (every custom id without a name is "unknown"); sorting by name puts
 * such series next to each other so they can be merged. */
static int
series_cmp(const void *a, const void *b)
{
	const struct agg_key *x = &((const struct agg_series *)a)->key;
	const struct agg_key *y = &((const struct agg_series *)b)->key;
	int c;

	if (x->mta != y->mta && (c = strcmp(mp_mta_name(x->mta), mp_mta_name(y->mta))) != 0)
		return c;
#define CMP(f) do { if (x->f != y->f) return x->f < y->f ? -1 : 1; } while (0)
	CMP(direction);
	CMP(cls);
	CMP(code);
	CMP(enhanced.cls);
	CMP(enhanced.subject);
	CMP(enhanced.detail);
#undef CMP
	return 0;
}

static int
render_status(const struct expo_view *v, struct expo_buf *out)
{
	size_t cap = agg_capacity(v->agg);
	struct agg_series *s = NULL;
	size_t n = 0;
	int rc = -1;

	if (family(out, "maillog_smtp_status_total", "counter",
	    "SMTP status lines counted: one per delivery attempt result (outbound: "
	    "sent, deferred, bounced, expired) or reply to a client (inbound: rejects). "
	    "code is the quoted 3-digit reply code (empty if none), enhanced the "
	    "RFC 3463 code (the MTA's dsn= field first), class from code, else enhanced, "
	    "else the outcome. code=\"other\" marks events folded in past the series cap.") < 0)
		return -1;
	if (cap) {
		s = malloc(cap * sizeof *s);
		if (s == NULL)
			return -1;
		n = agg_snapshot(v->agg, s, cap);
		qsort(s, n, sizeof *s, series_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		const struct agg_key *k = &s[i].key;
		uint64_t value = s[i].value;
		char code[8], enh[MP_ENHANCED_BUFSZ];

		/* Equal labels must make one series: a duplicate fails the
		 * whole scrape in Prometheus. */
		while (i + 1 < n && series_cmp(&s[i], &s[i + 1]) == 0)
			value += s[++i].value;
		if (k->code == AGG_CODE_OVERFLOW) {
			strcpy(code, "other");
			strcpy(enh, "other");
		} else {
			if (k->code == 0)
				code[0] = '\0';
			else
				snprintf(code, sizeof code, "%u", (unsigned)k->code);
			mp_format_enhanced(&k->enhanced, enh);
		}
		if (APPEND_LIT(out, "maillog_smtp_status_total{mta=\"") < 0 ||
		    escape_str(out, mp_mta_name(k->mta)) < 0 ||
		    expo_buf_printf(out, "\",direction=\"%s\",class=\"%uxx\",code=\"%s\",enhanced=\"",
		    mp_direction_name(k->direction), (unsigned)k->cls, code) < 0 ||
		    escape_str(out, enh) < 0 ||
		    expo_buf_printf(out, "\"} %" PRIu64 "\n", value) < 0)
			goto out;
	}
	rc = 0;
out:
	free(s);
	return rc;
}

/* One sample per MTA name: those in view->mtas always (0 included, so an
 * alert on the rate has a series to work on), any other only once
 * nonzero. Ids sharing a name ("unknown") are summed; names in order. */
static int
render_unmatched(const struct expo_view *v, struct expo_buf *out)
{
	enum { N = MP_MTA_MAX + 1 };
	const char *names[N];
	uint64_t counts[N];
	int shown[N], n = 0;

	if (family(out, "maillog_unmatched_lines_total", "counter",
	    "Lines that carried an MTA's status marker (status=, reject: ...) but from "
	    "which no SMTP status could be extracted: what this exporter misses. "
	    "mta=\"unknown\" when the MTA could not be told.") < 0)
		return -1;
	for (int mta = MP_MTA_NONE; mta < MP_MTA_MAX; mta++) {
		const char *name = mp_mta_name(mta);
		uint64_t c = agg_unmatched_count(v->agg, mta);
		int always = 0, j;

		for (int i = 0; i < v->nmtas; i++)
			if (v->mtas[i] == mta)
				always = 1;
		for (j = 0; j < n && strcmp(names[j], name) != 0; j++)
			;
		if (j == n) {
			names[n] = name;
			counts[n] = 0;
			shown[n] = 0;
			n++;
		}
		counts[j] += c;
		shown[j] |= always || c != 0;
	}
	for (;;) {
		int best = -1;
		for (int j = 0; j < n; j++)
			if (shown[j] && (best < 0 || strcmp(names[j], names[best]) < 0))
				best = j;
		if (best < 0)
			break;
		shown[best] = 0;
		if (APPEND_LIT(out, "maillog_unmatched_lines_total{mta=\"") < 0 ||
		    escape_str(out, names[best]) < 0 ||
		    expo_buf_printf(out, "\"} %" PRIu64 "\n", counts[best]) < 0)
			return -1;
	}
	return 0;
}

/* One family with one sample per source, labelled path. */
enum src_field {
	SRC_LINES, SRC_BYTES, SRC_OVERLONG, SRC_ROTATIONS, SRC_TRUNCATIONS,
	SRC_OPEN_ERRORS, SRC_DROPPED_FRAGMENTS,
};

static const struct {
	enum src_field field;
	const char *name;
	const char *help;
} src_families[] = {
	{ SRC_LINES, "maillog_lines_read_total",
	  "Complete lines read from the mail log (every line, counted or not)." },
	{ SRC_BYTES, "maillog_bytes_read_total",
	  "Bytes read from the mail log." },
	{ SRC_OVERLONG, "maillog_overlong_lines_total",
	  "Lines longer than the line buffer, skipped without being parsed." },
	{ SRC_ROTATIONS, "maillog_rotations_total",
	  "Log rotations detected (rename, delete or symlink change); the old file "
	  "is drained before the new one is read." },
	{ SRC_TRUNCATIONS, "maillog_truncations_total",
	  "Truncations detected (copytruncate rotation); reading restarts at offset 0. "
	  "Lines written between copy and truncate are lost." },
	{ SRC_OPEN_ERRORS, "maillog_open_errors_total",
	  "Failed attempts to open or read the mail log (e.g. permission denied); "
	  "retried." },
	{ SRC_DROPPED_FRAGMENTS, "maillog_dropped_fragments_total",
	  "Unterminated last lines of rotated files, dropped when the file was closed." },
};

static uint64_t
src_value(const struct tail_status *st, enum src_field f)
{
	switch (f) {
	case SRC_LINES: return atomic_load_explicit(&st->lines, memory_order_relaxed);
	case SRC_BYTES: return atomic_load_explicit(&st->bytes, memory_order_relaxed);
	case SRC_OVERLONG: return atomic_load_explicit(&st->overlong, memory_order_relaxed);
	case SRC_ROTATIONS: return atomic_load_explicit(&st->rotations, memory_order_relaxed);
	case SRC_TRUNCATIONS: return atomic_load_explicit(&st->truncations, memory_order_relaxed);
	case SRC_OPEN_ERRORS: return atomic_load_explicit(&st->open_errors, memory_order_relaxed);
	case SRC_DROPPED_FRAGMENTS:
		return atomic_load_explicit(&st->dropped_fragments, memory_order_relaxed);
	}
	return 0;
}

static int
sample_path(struct expo_buf *out, const char *name, const char *path)
{
	if (expo_buf_printf(out, "%s{path=\"", name) < 0 || escape_str(out, path) < 0)
		return -1;
	return 0;
}

static int
render_sources(const struct expo_view *v, struct expo_buf *out)
{
	static const enum tail_state states[] = {
		TAIL_STATE_WAITING, TAIL_STATE_FOLLOWING, TAIL_STATE_ERROR, TAIL_STATE_EOF,
	};

	for (size_t f = 0; f < sizeof src_families / sizeof src_families[0]; f++) {
		if (family(out, src_families[f].name, "counter", src_families[f].help) < 0)
			return -1;
		for (int i = 0; i < v->nsources; i++) {
			uint64_t c = src_value(v->sources[i].status, src_families[f].field);
			if (sample_path(out, src_families[f].name, v->sources[i].path) < 0 ||
			    expo_buf_printf(out, "\"} %" PRIu64 "\n", c) < 0)
				return -1;
		}
	}

	if (family(out, "maillog_source_state", "gauge",
	    "State of each mail log input, one-hot: waiting (the file does not exist "
	    "yet), following, error (cannot be opened or read; retried), eof "
	    "(standard input or a pipe ended).") < 0)
		return -1;
	for (int i = 0; i < v->nsources; i++) {
		int cur = atomic_load_explicit(&v->sources[i].status->state, memory_order_relaxed);
		for (size_t s = 0; s < sizeof states / sizeof states[0]; s++) {
			if (sample_path(out, "maillog_source_state", v->sources[i].path) < 0 ||
			    expo_buf_printf(out, "\",state=\"%s\"} %d\n",
			    tail_state_name(states[s]), cur == (int)states[s]) < 0)
				return -1;
		}
	}

	if (family(out, "maillog_last_line_read_timestamp_seconds", "gauge",
	    "Unix time at which the last line was read from each input (absent until "
	    "the first line). Alert on time() minus this to catch a silent log.") < 0)
		return -1;
	for (int i = 0; i < v->nsources; i++) {
		int64_t t = atomic_load_explicit(&v->sources[i].status->last_read_unix,
		    memory_order_relaxed);
		if (t == 0)
			continue;
		if (sample_path(out, "maillog_last_line_read_timestamp_seconds",
		    v->sources[i].path) < 0 ||
		    expo_buf_printf(out, "\"} %" PRId64 "\n", t) < 0)
			return -1;
	}
	return 0;
}

/* The process collector of the Go client, read from /proc/self. A value
 * that cannot be read leaves its family out rather than reporting a
 * made-up 0 (a container without /proc, say). */
struct proc_stat {
	int have_stat;
	double cpu_seconds, start_time;
	uint64_t vsize, rss_bytes;
	int have_fds;
	uint64_t open_fds;
	int have_max_fds;
	uint64_t max_fds;
};

static int
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static void
proc_read(struct proc_stat *p)
{
	char buf[4096];
	long ticks = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);

	memset(p, 0, sizeof *p);

	/* The comm field may hold spaces and parentheses: fields start after
	 * the last ')'. Field 3 (state) is the first one there. */
	if (ticks > 0 && page > 0 && read_file("/proc/self/stat", buf, sizeof buf) == 0) {
		char *q = strrchr(buf, ')');
		unsigned long long utime, stime, start, vsize;
		long long rss;
		if (q && sscanf(q + 1,
		    " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
		    "%*d %*d %llu %llu %lld", &utime, &stime, &start, &vsize, &rss) == 5) {
			double btime = -1;
			char sbuf[16384];
			/* starttime is in ticks since boot; btime in /proc/stat
			 * turns it into a wall-clock time, as the Go client does. */
			if (read_file("/proc/stat", sbuf, sizeof sbuf) == 0) {
				char *b = strstr(sbuf, "\nbtime ");
				if (b)
					btime = strtod(b + 7, NULL);
			}
			if (btime >= 0) {
				p->have_stat = 1;
				p->cpu_seconds = (double)(utime + stime) / (double)ticks;
				p->start_time = btime + (double)start / (double)ticks;
				p->vsize = vsize;
				p->rss_bytes = rss > 0 ? (uint64_t)rss * (uint64_t)page : 0;
			}
		}
	}

	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		uint64_t n = 0;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		p->have_fds = 1;
		p->open_fds = n;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		p->have_max_fds = 1;
		p->max_fds = (uint64_t)rl.rlim_cur;
	}
}

static int
render_process(struct expo_buf *out)
{
	struct proc_stat p;

	proc_read(&p);
	if (p.have_stat) {
		if (family(out, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.") < 0 ||
		    expo_buf_printf(out, "process_cpu_seconds_total %.2f\n", p.cpu_seconds) < 0)
			return -1;
	}
	if (p.have_max_fds) {
		if (family(out, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.") < 0 ||
		    expo_buf_printf(out, "process_max_fds %" PRIu64 "\n", p.max_fds) < 0)
			return -1;
	}
	if (p.have_fds) {
		if (family(out, "process_open_fds", "gauge",
		    "Number of open file descriptors.") < 0 ||
		    expo_buf_printf(out, "process_open_fds %" PRIu64 "\n", p.open_fds) < 0)
			return -1;
	}
	if (p.have_stat) {
		if (family(out, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.") < 0 ||
		    expo_buf_printf(out, "process_resident_memory_bytes %" PRIu64 "\n",
		    p.rss_bytes) < 0 ||
		    family(out, "process_start_time_seconds", "gauge",
		    "Start time of the process since unix epoch in seconds.") < 0 ||
		    expo_buf_printf(out, "process_start_time_seconds %.2f\n", p.start_time) < 0 ||
		    family(out, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.") < 0 ||
		    expo_buf_printf(out, "process_virtual_memory_bytes %" PRIu64 "\n",
		    p.vsize) < 0)
			return -1;
	}
	return 0;
}

/*
 * Render every family into out, appending. The order is fixed:
 *   maillog_smtp_status_total, maillog_unmatched_lines_total,
 *   maillog_series_dropped_total, the per-source families (in source
 *   order), maillog_exporter_build_info, then process_* (alphabetical, as
 *   the Go client emits them).
 * Every family gets its HELP and TYPE even when it has no sample yet, so a
 * dashboard can tell "nothing counted" from "exporter too old".
 * Returns 0, or -1 on allocation failure (out valid but incomplete).
 */
int
expo_render(const struct expo_view *v, struct expo_buf *out)
{
	if (render_status(v, out) < 0 || render_unmatched(v, out) < 0)
		return -1;
	if (family(out, "maillog_series_dropped_total", "counter",
	    "Events counted in an overflow series (code=\"other\", enhanced=\"other\") "
	    "because the maillog_smtp_status_total series cap was reached. Nonzero "
	    "means labels were lost: raise the cap or find the source of new codes.") < 0 ||
	    expo_buf_printf(out, "maillog_series_dropped_total %" PRIu64 "\n",
	    agg_dropped_series(v->agg)) < 0)
		return -1;
	if (render_sources(v, out) < 0)
		return -1;
	if (family(out, "maillog_exporter_build_info", "gauge",
	    "Always 1; the labels name the version and source revision of the running "
	    "maillog_exporter.") < 0 ||
	    APPEND_LIT(out, "maillog_exporter_build_info{version=\"") < 0 ||
	    escape_str(out, MAILLOG_EXPORTER_VERSION) < 0 ||
	    APPEND_LIT(out, "\",revision=\"") < 0 ||
	    escape_str(out, MAILLOG_EXPORTER_REVISION) < 0 ||
	    APPEND_LIT(out, "\"} 1\n") < 0)
		return -1;
	return render_process(out);
}
