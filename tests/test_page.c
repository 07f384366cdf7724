/*
 * test_page.c - the status page's pieces: the HTML escaper every log value
 * goes through, the per-minute ring buffer behind the chart (including a
 * reader racing the writer across bucket recycling), and a whole page
 * rendered from a store fed hostile values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/aggregate.h"
#include "web/expo.h"
#include "store/history.h"
#include "tests/op_event.h"
#include "web/page.h"
#include "parsers/reason.h"

/* page_escape of s (length n) as a NUL-terminated string; caller frees. */
static char *
escaped(const char *s, size_t n)
{
	struct strbuf b = { 0 };

	assert_int_equal(page_escape(&b, s, n), 0);
	if (b.data == NULL)
		return strdup("");
	return b.data;
}

static void
expect_escape(const char *in, size_t n, const char *want)
{
	char *got = escaped(in, n);
	assert_string_equal(got, want);
	free(got);
}

#define ESC(lit, want) expect_escape((lit), sizeof(lit) - 1, (want))

static void
test_escape_markup(void **state)
{
	(void)state;
	ESC("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
	ESC("a&b", "a&amp;b");
	ESC("\"'><img src=x onerror=alert(1)>", "&quot;&#39;&gt;&lt;img src=x onerror=alert(1)&gt;");
	ESC("&amp;", "&amp;amp;");
	ESC("", "");
	ESC("gmail.com", "gmail.com");
	ESC("/var/log/mail.log", "/var/log/mail.log");
	ESC("5.7.1", "5.7.1");
}

static void
test_escape_bytes(void **state)
{
	(void)state;
	/* Tab and newline are text; other controls, DEL and NUL are not. */
	ESC("a\tb\nc", "a\tb\nc");
	ESC("a\x01" "b\x7f" "c", "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
	ESC("a\0b", "a\xef\xbf\xbd" "b");
	ESC("\x1b[31mred", "\xef\xbf\xbd[31mred");
	/* Well-formed UTF-8 passes whole. */
	ESC("M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x93\xa7", "M\xc3\xbcller \xe2\x82\xac \xf0\x9f\x93\xa7");
	/* Ill-formed: one U+FFFD per maximal subpart, the next byte kept. */
	ESC("\xe2\x82" "A", "\xef\xbf\xbd" "A");
	ESC("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd");
	ESC("\xc0\xbc" "script", "\xef\xbf\xbd\xef\xbf\xbd" "script");   /* overlong '<' */
	ESC("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");        /* surrogate */
	ESC("x\xf0\x9f", "x\xef\xbf\xbd");                                    /* cut short */
}

/*
 * A fresh ring is calloc's zeros and nothing else: every bucket must read
 * as holding no period, period 0 (the first minute of 1970) included, whose
 * tag is 1, not the 0 of an empty bucket. And the edges of the tag: a
 * negative period and INT64_MAX (whose tag would overflow; UBSan checks)
 * are dropped and never held.
 */
static void
test_history_fresh_ring(void **state)
{
	struct hist *h = hist_new(4, 1);
	uint64_t v[MP_DIR_COUNT][HIST_CLASSES];

	(void)state;
	assert_non_null(h);
	for (int64_t p = 0; p < 8; p++)
		assert_int_equal(hist_get(h, p, v), 0);
	assert_int_equal(hist_get(h, -1, v), 0);
	assert_int_equal(hist_get(h, INT64_MAX, v), 0);

	hist_record(h, 0, MP_DIR_OUTBOUND, 5);
	assert_int_equal(hist_get(h, 0, v), 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 1);
	assert_int_equal(hist_get(h, 4, v), 0);   /* same bucket, other period */
	assert_int_equal(hist_latest(h), 0);

	/* Period 4 recycles period 0's bucket. */
	hist_record(h, 4, MP_DIR_INBOUND, 2);
	assert_int_equal(hist_get(h, 0, v), 0);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 0);
	assert_int_equal(hist_get(h, 4, v), 1);
	assert_int_equal(v[MP_DIR_INBOUND][0], 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 0);

	hist_record(h, -1, MP_DIR_OUTBOUND, 2);
	hist_record(h, INT64_MAX, MP_DIR_OUTBOUND, 2);
	assert_int_equal(hist_dropped(h), 2);
	assert_int_equal(hist_get(h, INT64_MAX, v), 0);
	assert_int_equal(hist_latest(h), 4);
	hist_free(h);
}

static void
test_history_windows(void **state)
{
	struct hist *h = hist_new(HIST_PAGE_BUCKETS, HIST_PAGE_SECONDS);
	uint64_t v[MP_DIR_COUNT][HIST_CLASSES];
	int64_t t0 = 1795874400;   /* a minute boundary */

	(void)state;
	assert_non_null(h);
	assert_int_equal(hist_latest(h), -1);
	hist_record(h, t0, MP_DIR_OUTBOUND, 2);
	hist_record(h, t0 + 59, MP_DIR_OUTBOUND, 2);
	hist_record(h, t0 + 60, MP_DIR_OUTBOUND, 5);
	hist_record(h, t0 + 61, MP_DIR_INBOUND, 4);
	hist_record(h, t0 + 3600, MP_DIR_OUTBOUND, 4);
	assert_int_equal(hist_latest(h), (t0 + 3600) / 60);

	assert_int_equal(hist_get(h, t0 / 60, v), 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 2);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 0);
	assert_int_equal(hist_get(h, t0 / 60 + 1, v), 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 1);
	assert_int_equal(v[MP_DIR_INBOUND][1], 1);
	/* A minute nobody wrote reads as zeros. */
	assert_int_equal(hist_get(h, t0 / 60 + 2, v), 0);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 0);

	/* Windows ending at t0 + 3600: the last minute holds only the 4xx;
	 * 60 minutes reach back to t0 + 60 (exclusive of t0's minute). */
	memset(v, 0, sizeof v);
	hist_sum(h, t0 + 3600, 1, v);
	assert_int_equal(v[MP_DIR_OUTBOUND][1], 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 0);
	memset(v, 0, sizeof v);
	hist_sum(h, t0 + 3600, 60, v);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 0);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 1);
	memset(v, 0, sizeof v);
	hist_sum(h, t0 + 3600, 1440, v);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 2);
	assert_int_equal(v[MP_DIR_OUTBOUND][1], 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 1);
	assert_int_equal(v[MP_DIR_INBOUND][1], 1);

	/* Bad class or direction: not counted, but counted as dropped. */
	hist_record(h, t0, MP_DIR_OUTBOUND, 3);
	hist_record(h, t0, (enum mp_direction)7, 2);
	assert_int_equal(hist_dropped(h), 2);
	hist_free(h);
	hist_free(NULL);
	assert_null(hist_new(0, 60));
	assert_null(hist_new(10, 0));
}

/* hist_record's rules written plainly, as history.c's top comment states
 * them: one array of buckets, no atomics. */
struct ring_model {
	unsigned n, secs;
	int64_t latest;
	uint64_t dropped;
	int64_t tag[32];
	uint64_t count[32][MP_DIR_COUNT][HIST_CLASSES];
};

static void
model_record(struct ring_model *m, int64_t t, enum mp_direction dir, int cls)
{
	int ci = hist_class_index(cls);
	int64_t s = m->secs, p = t >= 0 ? t / s : -((-t + s - 1) / s), i;

	if (ci < 0 || (unsigned)dir >= MP_DIR_COUNT ||
	    (m->latest >= 0 && p <= m->latest - (int64_t)m->n) || p < 0 || p == INT64_MAX) {
		m->dropped++;
		return;
	}
	i = p % m->n;
	if (m->tag[i] != p + 1) {
		m->tag[i] = p + 1;
		memset(m->count[i], 0, sizeof m->count[i]);
	}
	m->count[i][dir][ci]++;
	if (p > m->latest)
		m->latest = p;
}

/* The ring against the model after every record of random runs of times:
 * mostly inside one period, then across a period's ends, back by a little
 * and a lot, forward past the whole ring, and times, classes and
 * directions that are dropped. */
static void
test_history_as_model(void **state)
{
	static const unsigned shapes[][2] = { { 4, 1 }, { 4, 60 }, { 24, 3600 }, { 32, 7 } };
	uint64_t seed = 20261207;

	(void)state;
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		struct ring_model m = { .n = shapes[k][0], .secs = shapes[k][1], .latest = -1 };
		struct hist *h = hist_new(m.n, m.secs);
		int64_t t = 1795874400 + (int64_t)k;

		assert_non_null(h);
		for (int r = 0; r < 20000; r++) {
			int64_t s = m.secs, rec = t;
			enum mp_direction dir;
			int cls;
			unsigned x;

			seed = seed * 6364136223846793005u + 1442695040888963407u;
			x = (unsigned)(seed >> 33);
			switch (x % 16) {
			case 0: t += s; break;                          /* the next period */
			case 1: t = (t / s) * s + s - 1; break;         /* a period's last second */
			case 2: t = (t / s) * s - 1; break;             /* the one before it starts */
			case 3: t -= (int64_t)(x >> 8) % (s * 3 + 1); break; /* back a little */
			case 4: t -= s * (int64_t)m.n; break;           /* back past the ring */
			case 5: t += s * (int64_t)m.n + (int64_t)(x >> 8) % s; break; /* past the ring */
			default: t += (int64_t)(x >> 8) % (s / 4 + 1); break; /* within a period */
			}
			rec = t;
			if (x % 97 == 0)
				rec = -(int64_t)(x >> 8) % 100 - 1;
			if (x % 89 == 0)
				rec = INT64_MAX;
			cls = x % 53 == 0 ? 3 : (int[]){ 2, 4, 5 }[(x >> 4) % 3];
			dir = x % 59 == 0 ? (enum mp_direction)7 : (enum mp_direction)((x >> 6) % MP_DIR_COUNT);
			hist_record(h, rec, dir, cls);
			model_record(&m, rec, dir, cls);

			assert_int_equal(hist_latest(h), m.latest);
			assert_int_equal(hist_dropped(h), m.dropped);
			for (int64_t p = m.latest - (int64_t)m.n - 1; m.latest >= 0 &&
			    p <= m.latest + 1; p++) {
				uint64_t v[MP_DIR_COUNT][HIST_CLASSES];
				int held = p >= 0 && m.tag[p % m.n] == p + 1;

				assert_int_equal(hist_get(h, p, v), held);
				for (int d = 0; d < MP_DIR_COUNT; d++)
					for (int c = 0; c < HIST_CLASSES; c++)
						assert_int_equal(v[d][c], held ? m.count[p % m.n][d][c] : 0);
			}
		}
		hist_free(h);
	}
}

static void
test_history_wraps(void **state)
{
	struct hist *h = hist_new(HIST_PAGE_BUCKETS, HIST_PAGE_SECONDS);
	uint64_t v[MP_DIR_COUNT][HIST_CLASSES];
	int64_t t0 = 1795874400, day = 1440 * 60;

	(void)state;
	hist_record(h, t0, MP_DIR_OUTBOUND, 5);
	hist_record(h, t0, MP_DIR_OUTBOUND, 5);
	/* A day later the same bucket is recycled: the old minute is gone and
	 * the new one starts from zero. */
	hist_record(h, t0 + day, MP_DIR_OUTBOUND, 2);
	assert_int_equal(hist_get(h, t0 / 60, v), 0);
	assert_int_equal(hist_get(h, (t0 + day) / 60, v), 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][2], 0);
	/* A time older than the ring reaches back is dropped, not written
	 * over the newer minute that holds its bucket. */
	hist_record(h, t0, MP_DIR_OUTBOUND, 4);
	assert_int_equal(hist_dropped(h), 1);
	assert_int_equal(hist_get(h, (t0 + day) / 60, v), 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][1], 0);
	/* A clock stepped back by less than a day still counts in its minute. */
	hist_record(h, t0 + day - 120, MP_DIR_INBOUND, 4);
	assert_int_equal(hist_get(h, (t0 + day - 120) / 60, v), 1);
	assert_int_equal(v[MP_DIR_INBOUND][1], 1);
	/* Hour buckets, as the report uses them. */
	struct hist *hours = hist_new(24 * 400, 3600);
	hist_record(hours, t0 + 10, MP_DIR_OUTBOUND, 2);
	hist_record(hours, t0 + 3599, MP_DIR_OUTBOUND, 2);
	assert_int_equal(hist_get(hours, t0 / 3600, v), 1);
	assert_int_equal(v[MP_DIR_OUTBOUND][0], 2);
	hist_free(hours);
	hist_free(h);
}

/* A reader racing the writer over a small ring that recycles its buckets
 * all the time: what it reads for a period must never exceed what was
 * written in that period (a recycled bucket must not be read under its
 * old period), and once the writer is done every kept period is exact. */
#define RACE_BUCKETS 4
#define RACE_PERIODS 4000
#define RACE_PER_PERIOD 50

struct race {
	struct hist *h;
	_Atomic int done;
	_Atomic long reads;             /* passes the reader has finished */
};

/* Wait until the reader has finished a pass after `seen` of them: so the
 * reader surely reads before the writing starts and once in its middle,
 * whichever thread the scheduler runs first (waiting on nothing, the
 * writer could finish before the reader's first pass, and "reads > 0"
 * failed once that way in a package build). */
static void
await_pass(struct race *r, long seen)
{
	while (atomic_load(&r->reads) <= seen)
		sched_yield();
}

static void *
race_writer(void *p)
{
	struct race *r = p;

	await_pass(r, 0);
	for (int64_t t = 0; t < RACE_PERIODS; t++) {
		if (t == RACE_PERIODS / 2)
			await_pass(r, atomic_load(&r->reads));
		for (int i = 0; i < RACE_PER_PERIOD; i++)
			hist_record(r->h, t, MP_DIR_OUTBOUND, 2);
	}
	atomic_store(&r->done, 1);
	return NULL;
}

static void
test_history_race(void **state)
{
	struct race r = { .h = hist_new(RACE_BUCKETS, 1) };
	uint64_t v[MP_DIR_COUNT][HIST_CLASSES];
	pthread_t th;
	long reads = 0;

	(void)state;
	atomic_init(&r.reads, 0);
	assert_int_equal(pthread_create(&th, NULL, race_writer, &r), 0);
	while (!atomic_load(&r.done)) {
		int64_t last = hist_latest(r.h);
		for (int64_t p = last - RACE_BUCKETS; p <= last + 1; p++) {
			hist_get(r.h, p, v);
			assert_true(v[MP_DIR_OUTBOUND][0] <= RACE_PER_PERIOD);
			assert_int_equal(v[MP_DIR_OUTBOUND][1] + v[MP_DIR_INBOUND][0], 0);
			reads++;
		}
		atomic_fetch_add(&r.reads, 1);
	}
	pthread_join(th, NULL);
	assert_true(reads > 0);
	for (int64_t p = RACE_PERIODS - RACE_BUCKETS; p < RACE_PERIODS; p++) {
		assert_int_equal(hist_get(r.h, p, v), 1);
		assert_int_equal(v[MP_DIR_OUTBOUND][0], RACE_PER_PERIOD);
	}
	assert_int_equal(hist_get(r.h, RACE_PERIODS - RACE_BUCKETS - 1, v), 0);
	hist_free(r.h);
}

/* One status as the tailer records it: counters, its reason (4xx and 5xx
 * only, as main.c classifies) and the per-minute ring. */
static void
status(struct agg *a, struct hist *h, int64_t t, enum mp_direction dir, unsigned code,
    unsigned ecls, unsigned subj, unsigned det, enum mp_outcome outcome, const char *domain,
    enum reason why)
{
	struct mp_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = MP_EVENT_STATUS;
	ev.mta = MP_MTA_POSTFIX;
	ev.direction = dir;
	ev.outcome = outcome;
	ev.code = (uint16_t)code;
	ev.enhanced = (struct mp_enhanced){ (uint8_t)ecls, (uint16_t)subj, (uint16_t)det };
	ev.cls = (uint8_t)(code ? code / 100 : ecls);
	ev.domain = domain;
	ev.domain_len = domain ? strlen(domain) : 0;
	ev.delay = -1;
	for (int s = 0; s < MP_STAGE_COUNT; s++)
		ev.delay_stage[s] = -1;
	agg_record(a, &ev);
	if (ev.cls != 2)
		agg_record_reason(a, &ev, (int)why);
	hist_record(h, t, dir, ev.cls);
}

static void
op(struct agg *a, int mta, unsigned fam, unsigned l0, unsigned l1, unsigned l2)
{
	struct mp_event ev = op_event(mta, fam, l0, l1, l2, 0);

	agg_record_ops(a, &ev);
}

/* The number in the element with the given id, grouping removed. */
static long
cell(const char *page, const char *id)
{
	char key[64];
	const char *p;
	long v = 0;

	snprintf(key, sizeof key, "id=\"%s\"", id);
	p = strstr(page, key);
	assert_non_null(p);
	p = strchr(p, '>');
	assert_non_null(p);
	for (p++; *p && *p != '<'; p++)
		if (*p >= '0' && *p <= '9')
			v = v * 10 + (*p - '0');
	return v;
}

static void
test_page_render(void **state)
{
	static const char hostile[] = "/var/log/<script>alert(1)</script>/\"mail'.log";
	struct agg *a = agg_new(1000);
	struct hist *h = hist_new(HIST_PAGE_BUCKETS, HIST_PAGE_SECONDS);
	struct input_status st;
	struct expo_source src = { hostile, &st, 0, NULL };
	int mtas[1] = { MP_MTA_POSTFIX };
	struct strbuf out = { 0 };
	double now = 1795874400 + 30, lps[1] = { 12.5 };

	(void)state;
	memset(&st, 0, sizeof st);
	atomic_store(&st.state, INPUT_STATE_FOLLOWING);
	atomic_store(&st.lines, 1234567);
	for (int i = 0; i < 5; i++)
		status(a, h, (int64_t)now, MP_DIR_OUTBOUND, 250, 2, 0, 0, MP_OUTCOME_SENT,
		    "gmail.com", REASON_OTHER);
	for (int i = 0; i < 3; i++)
		status(a, h, (int64_t)now - 7200, MP_DIR_OUTBOUND, 550, 5, 1, 1,
		    MP_OUTCOME_BOUNCED, "<b>x</b>.example", REASON_UNKNOWN_RECIPIENT);
	for (int i = 0; i < 4; i++)
		status(a, h, (int64_t)now - 7200, MP_DIR_OUTBOUND, 450, 4, 7, 1,
		    MP_OUTCOME_DEFERRED, "gmail.com", REASON_GREYLISTED);
	status(a, h, (int64_t)now - 120, MP_DIR_INBOUND, 554, 5, 7, 1, MP_OUTCOME_REJECTED, NULL,
	    REASON_RELAY_DENIED);

	/* Sessions: 10 connects (2 of them exim), 3 without QUIT, 2 lost,
	 * 4 TLS in, 1 TLS out, 1 panic. */
	for (int i = 0; i < 10; i++)
		op(a, i < 8 ? MP_MTA_POSTFIX : MP_MTA_EXIM, MP_OPF_SMTPD_CONNECTS, 0, 0, 0);
	for (int i = 0; i < 10; i++)
		op(a, MP_MTA_POSTFIX, MP_OPF_SMTPD_DISCONNECTS, i < 7 ? MP_DISC_QUIT :
		    MP_DISC_NO_QUIT, 0, 0);
	op(a, MP_MTA_POSTFIX, MP_OPF_SMTPD_LOST, MP_CMD_DATA, 0, 0);
	op(a, MP_MTA_POSTFIX, MP_OPF_SMTPD_LOST, MP_CMD_EHLO, 0, 0);
	for (int i = 0; i < 4; i++)
		op(a, MP_MTA_POSTFIX, MP_OPF_TLS, MP_DIR_INBOUND, MP_TLSP_TLSV1_3,
		    i == 0 ? MP_TLST_ANONYMOUS : MP_TLST_TRUSTED);
	op(a, MP_MTA_POSTFIX, MP_OPF_TLS, MP_DIR_OUTBOUND, MP_TLSP_TLSV1_2, MP_TLST_VERIFIED);
	op(a, MP_MTA_EXIM, MP_OPF_PANICS, 0, 0, 0);

	struct expo_view v = {
		.agg = a, .sources = &src, .nsources = 1, .mtas = mtas, .nmtas = 1,
		.history = h,
	};
	assert_int_equal(page_render(&v, "/metrics\"><script>", now, lps, &out), 0);
	assert_int_equal(cell(out.data, "smtpd-connects"), 10);
	assert_int_equal(cell(out.data, "smtpd-no-quit"), 3);
	assert_int_equal(cell(out.data, "smtpd-lost"), 2);
	assert_int_equal(cell(out.data, "tls-in"), 4);
	assert_int_equal(cell(out.data, "tls-out"), 1);
	assert_int_equal(cell(out.data, "smtpd-auth-failures"), 0);
	assert_int_equal(cell(out.data, "panics"), 1);
	assert_non_null(strstr(out.data, "<td class=\"k5\">MTA panics"));
	/* No queue collector (v.queue NULL): the card says so. */
	assert_non_null(strstr(out.data, "not collected: no MTA queue found"));
	assert_null(strstr(out.data, "<script"));
	assert_null(strstr(out.data, "<b>x"));
	assert_non_null(strstr(out.data, "/var/log/&lt;script&gt;alert(1)&lt;/script&gt;/"
	    "&quot;mail&#39;.log"));
	assert_non_null(strstr(out.data, "href=\"/metrics&quot;&gt;&lt;script&gt;\""));
	assert_non_null(strstr(out.data, "<meta http-equiv=\"refresh\""));
	/* Windows by arrival time; totals since start. */
	assert_int_equal(cell(out.data, "minute-out-2xx"), 5);
	assert_int_equal(cell(out.data, "minute-out-5xx"), 0);
	assert_int_equal(cell(out.data, "hour-in-5xx"), 1);
	assert_int_equal(cell(out.data, "hour-out-5xx"), 0);
	assert_int_equal(cell(out.data, "day-out-5xx"), 3);
	assert_int_equal(cell(out.data, "total-out-2xx"), 5);
	assert_int_equal(cell(out.data, "total-out-5xx"), 3);
	assert_int_equal(cell(out.data, "total-all"), 13);
	assert_int_equal(cell(out.data, "lines-0"), 1234567);
	assert_int_equal(cell(out.data, "outcome-bounced"), 3);
	/* Meanings beside the codes. */
	assert_non_null(strstr(out.data, "Bad destination mailbox address"));
	assert_non_null(strstr(out.data, "<svg id=\"chart\""));
	/* Why it failed: counts per class, the most frequent reason first,
	 * greylisting (and only greylisting) marked harmless. */
	assert_int_equal(cell(out.data, "out-reason-greylisted-4xx"), 4);
	assert_int_equal(cell(out.data, "out-reason-greylisted-5xx"), 0);
	assert_int_equal(cell(out.data, "out-reason-unknown_recipient-5xx"), 3);
	assert_int_equal(cell(out.data, "in-reason-relay_denied-5xx"), 1);
	assert_null(strstr(out.data, "out-reason-relay_denied"));
	{
		const char *grey = strstr(out.data, "out-reason-greylisted-4xx");
		const char *unk = strstr(out.data, "out-reason-unknown_recipient-4xx");
		const char *pill = strstr(out.data, "harmless</span>");

		assert_true(grey != NULL && unk != NULL && grey < unk);
		assert_true(pill != NULL && pill > grey && pill < unk);
		assert_null(strstr(pill + 1, "harmless</span>"));
		assert_non_null(strstr(out.data, "57.1 %"));  /* 4 of 7 outbound failures */
	}
	strbuf_free(&out);

	/* Without history (no chart) the page still renders. */
	v.history = NULL;
	assert_int_equal(page_render(&v, "/metrics", now, NULL, &out), 0);
	assert_null(strstr(out.data, "<svg"));
	assert_int_equal(cell(out.data, "hour-out-2xx"), 0);
	strbuf_free(&out);
	hist_free(h);
	agg_free(a);
}

/* Deferrals logged without an attempt are listed last and marked, however
 * many there are: they repeat the failures above them. */
static void
test_not_attempted_apart(void **state)
{
	struct agg *a = agg_new(1000);
	struct hist *h = hist_new(HIST_PAGE_BUCKETS, HIST_PAGE_SECONDS);
	struct input_status st;
	struct expo_source src = { "/var/log/mail.log", &st, 0, NULL };
	int mtas[1] = { MP_MTA_POSTFIX };
	struct strbuf out = { 0 };
	double now = 1795874400 + 30;

	(void)state;
	memset(&st, 0, sizeof st);
	atomic_store(&st.state, INPUT_STATE_FOLLOWING);
	for (int i = 0; i < 2; i++)
		status(a, h, (int64_t)now, MP_DIR_OUTBOUND, 550, 5, 1, 1,
		    MP_OUTCOME_BOUNCED, "example.org", REASON_UNKNOWN_RECIPIENT);
	status(a, h, (int64_t)now, MP_DIR_OUTBOUND, 450, 4, 7, 1, MP_OUTCOME_DEFERRED,
	    "gmail.com", REASON_GREYLISTED);
	for (int i = 0; i < 6; i++)
		status(a, h, (int64_t)now, MP_DIR_OUTBOUND, 0, 4, 4, 1, MP_OUTCOME_DEFERRED,
		    "down.example", REASON_NOT_ATTEMPTED);

	struct expo_view v = {
		.agg = a, .sources = &src, .nsources = 1, .mtas = mtas, .nmtas = 1,
		.history = h,
	};
	assert_int_equal(page_render(&v, "/metrics", now, NULL, &out), 0);
	assert_int_equal(cell(out.data, "out-reason-not_attempted-4xx"), 6);
	{
		const char *unk = strstr(out.data, "out-reason-unknown_recipient-4xx");
		const char *grey = strstr(out.data, "out-reason-greylisted-4xx");
		const char *na = strstr(out.data, "out-reason-not_attempted-4xx");
		const char *pill = strstr(out.data, "not attempted</span>");

		assert_true(unk != NULL && grey != NULL && na != NULL);
		assert_true(unk < grey && grey < na);
		assert_true(pill != NULL && pill > na);
		assert_null(strstr(pill + 1, "not attempted</span>"));
		assert_non_null(strstr(out.data, "already counted"));
	}
	strbuf_free(&out);
	hist_free(h);
	agg_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_markup),
		cmocka_unit_test(test_escape_bytes),
		cmocka_unit_test(test_history_windows),
		cmocka_unit_test(test_history_fresh_ring),
		cmocka_unit_test(test_history_wraps),
		cmocka_unit_test(test_history_as_model),
		cmocka_unit_test(test_history_race),
		cmocka_unit_test(test_page_render),
		cmocka_unit_test(test_not_attempted_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
