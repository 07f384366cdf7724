/*
 * test_state.c - the --state.file pieces: the envelope (round trip, every
 * way a file can be bad), the counters saved and restored by agg_save and
 * agg_load (and copied by agg_publish), and the tailer resuming from saved
 * positions: same file, rotated while stopped, truncated while stopped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/aggregate.h"
#include "store/aggregate_state.h"
#include "parsers/reason.h"
#include "store/state.h"
#include "daemon/input/tailer.h"
#include "util/le64.h"

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* ---- envelope -------------------------------------------------------- */

static void
write_sample(const char *path)
{
	struct state_buf b = { 0 };
	char err[256];

	state_put_u64(&b, 42);
	state_put_bytes(&b, "mail.log", 8);
	state_put_u64(&b, UINT64_MAX);
	assert_int_equal(state_write(path, &b, err, sizeof err), 0);
	state_buf_free(&b);
}

static void
test_round_trip(void **state)
{
	char path[128], err[256];
	struct state_buf body;
	struct state_rd r;
	size_t len;
	const char *s;
	struct stat st;

	(void)state;
	path_of(path, sizeof path, "rt");
	write_sample(path);
	assert_int_equal(state_read(path, &body, err, sizeof err), STATE_READ_OK);
	state_rd_init(&r, body.data, body.len);
	assert_int_equal(state_get_u64(&r), 42);
	s = state_get_bytes(&r, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(s, "mail.log", 8);
	assert_true(state_get_u64(&r) == UINT64_MAX);
	assert_false(r.bad);
	assert_int_equal(r.off, r.len);
	/* Reading past the end is flagged, never out of bounds. */
	assert_int_equal(state_get_u64(&r), 0);
	assert_true(r.bad);
	state_buf_free(&body);
	/* No temporary file is left behind. */
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	assert_int_equal(stat(tmp, &st), -1);
}

static void
patch(const char *path, off_t at, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
	close(fd);
}

static void
expect_bad(const char *path, const char *why)
{
	struct state_buf body;
	char err[256] = "";

	assert_int_equal(state_read(path, &body, err, sizeof err), STATE_READ_BAD);
	if (strstr(err, why) == NULL)
		fail_msg("error '%s' does not say '%s'", err, why);
	assert_null(body.data);
}

static void
test_corruption(void **state)
{
	char path[128], err[256];
	struct state_buf body;
	struct stat st;

	(void)state;
	path_of(path, sizeof path, "bad");
	assert_int_equal(state_read(path, &body, err, sizeof err), STATE_READ_MISSING);

	write_sample(path);
	patch(path, 40, "X", 1);          /* a flipped body byte */
	expect_bad(path, "checksum");

	write_sample(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 3), 0);   /* torn write */
	expect_bad(path, "truncated");

	write_sample(path);
	patch(path, 0, "NOTSTATE", 8);
	expect_bad(path, "not a maillog_exporter state file");

	write_sample(path);
	patch(path, 8, "\x01", 1);          /* version 1: the release before */
	expect_bad(path, "format version 1, this exporter reads versions 2 to 3");
	write_sample(path);
	patch(path, 8, "\x04", 1);          /* a later one */
	expect_bad(path, "format version 4");

	FILE *fp = fopen(path, "w");      /* empty */
	assert_non_null(fp);
	fclose(fp);
	expect_bad(path, "not a maillog_exporter state file");

	/* A body length past any state file's size is refused unread. */
	write_sample(path);
	patch(path, 16, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
	expect_bad(path, "truncated");
}

static void
test_bad_lengths(void **state)
{
	unsigned char raw[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct state_rd r;
	size_t len;

	(void)state;
	state_rd_init(&r, raw, sizeof raw);
	assert_null(state_get_bytes(&r, &len));   /* length beyond the body */
	assert_true(r.bad);
	assert_int_equal(len, 0);
}

/* ---- counters ---------------------------------------------------------- */

static struct mp_event
status(unsigned code, unsigned ec, unsigned es, unsigned ed, const char *domain,
    const char *host)
{
	struct mp_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = MP_EVENT_STATUS;
	ev.mta = MP_MTA_POSTFIX;
	ev.direction = MP_DIR_OUTBOUND;
	ev.code = (uint16_t)code;
	ev.enhanced = (struct mp_enhanced){ (uint8_t)ec, (uint16_t)es, (uint16_t)ed };
	ev.cls = (uint8_t)(code / 100);
	ev.outcome = code / 100 == 2 ? MP_OUTCOME_SENT : code / 100 == 4 ?
	    MP_OUTCOME_DEFERRED : MP_OUTCOME_BOUNCED;
	ev.domain = domain;
	ev.domain_len = strlen(domain);
	ev.hdr.host = host;
	ev.hdr.host_len = strlen(host);
	ev.delay = code == 250 ? 1.5 : -1;
	for (int s = 0; s < MP_STAGE_COUNT; s++)
		ev.delay_stage[s] = -1;
	return ev;
}

static struct agg *
filled(const struct agg_opts *o)
{
	struct agg *a = agg_new_opts(o);
	const char *domains[] = { "example.com", "example.net", "gmail.com" };

	assert_non_null(a);
	for (int i = 0; i < 300; i++) {
		struct mp_event ev = i % 5 == 0 ? status(550, 5, 1, 1, domains[i % 3], "mx1") :
		    i % 7 == 0 ? status(451, 4, 3, 0, domains[i % 3], "mx2") :
		    status(250, 2, 0, 0, domains[i % 3], "mx1");
		agg_record(a, &ev);
		if (ev.cls != 2)
			agg_record_reason(a, &ev, i % 4);
	}
	agg_unmatched(a, MP_MTA_POSTFIX);
	return a;
}

/* Every family and fixed counter of a equals b's, label names included. */
static void
assert_same(const struct agg *a, const struct agg *b)
{
	static struct agg_series sa[6000], sb[6000];

	for (int fam = 0; fam < AGG_FAM_COUNT; fam++) {
		size_t na = agg_snapshot_family(a, (enum agg_family)fam, sa, 6000);
		size_t nb = agg_snapshot_family(b, (enum agg_family)fam, sb, 6000);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++) {
			size_t j;
			for (j = 0; j < nb; j++)
				if (memcmp(&sa[i].key, &sb[j].key, sizeof sa[i].key) == 0)
					break;
			assert_true(j < nb);
			assert_int_equal(sa[i].value, sb[j].value);
			if (fam == AGG_FAM_DOMAIN)
				assert_string_equal(agg_domain_name(a, sa[i].key.direction,
				    sa[i].key.domain), agg_domain_name(b, sb[j].key.direction,
				    sb[j].key.domain));
			assert_string_equal(agg_host_name(a, sa[i].key.host),
			    agg_host_name(b, sb[j].key.host));
		}
	}
	for (int m = 0; m < MP_MTA_BUILTIN_COUNT; m++) {
		assert_int_equal(agg_events_count(a, m), agg_events_count(b, m));
		assert_int_equal(agg_matched_count(a, m), agg_matched_count(b, m));
		assert_int_equal(agg_unmatched_count(a, m), agg_unmatched_count(b, m));
		for (int r = 0; r < AGG_REASONS; r++)
			for (unsigned c = 4; c <= 5; c++)
				assert_int_equal(agg_reason_count(a, m, MP_DIR_OUTBOUND, c, r),
				    agg_reason_count(b, m, MP_DIR_OUTBOUND, c, r));
		for (int s = 0; s < AGG_STAGES; s++) {
			struct agg_histogram ha, hb;
			int ra = agg_delay_histogram(a, m, s, &ha);
			assert_int_equal(ra, agg_delay_histogram(b, m, s, &hb));
			if (ra == 0)
				assert_memory_equal(&ha, &hb, sizeof ha);
			for (int d = 0; d < MP_DEST_COUNT; d++) {
				ra = agg_delay_histogram_dest(a, m, (enum mp_destination)d, s, &ha);
				assert_int_equal(ra, agg_delay_histogram_dest(b, m,
				    (enum mp_destination)d, s, &hb));
				if (ra == 0)
					assert_memory_equal(&ha, &hb, sizeof ha);
			}
		}
	}
	assert_int_equal(agg_dropped_series(a), agg_dropped_series(b));
	assert_int_equal(agg_total_series(a), agg_total_series(b));
	assert_true(agg_start_time(a) == agg_start_time(b));
}

static void
test_agg_round_trip(void **state)
{
	struct agg_opts o;
	struct state_buf b = { 0 };
	struct state_rd r;
	char err[256];

	(void)state;
	agg_opts_defaults(&o);
	o.host_label = 1;
	o.domains_top = 2;
	struct agg *a = filled(&o);
	agg_save(a, &b);
	/* Sparse: a few hundred bytes, not the whole fixed arrays. */
	assert_true(b.len < 2048);

	struct agg *c = agg_new_opts(&o);
	state_rd_init(&r, b.data, b.len);
	assert_int_equal(agg_load(c, &r, err, sizeof err), 0);
	assert_false(r.bad);
	assert_int_equal(r.off, r.len);
	assert_same(a, c);

	/* Counting goes on from the restored values under the same labels. */
	struct mp_event ev = status(250, 2, 0, 0, "example.com", "mx1");
	agg_record(a, &ev);
	agg_record(c, &ev);
	assert_same(a, c);

	/* The published copy, twice (the second publish only adds). */
	struct agg *p = agg_new_opts(&o);
	agg_publish(p, a);
	assert_same(a, p);
	for (int i = 0; i < 50; i++) {
		ev = status(421, 4, 7, 0, "example.org", "mx3");
		agg_record(a, &ev);
	}
	uint64_t gen = agg_generation(p);
	agg_publish(p, a);
	assert_true(agg_generation(p) != gen);
	assert_same(a, p);

	agg_free(p);
	agg_free(c);
	agg_free(a);
	state_buf_free(&b);
}

static void
test_agg_refuses(void **state)
{
	struct agg_opts o, other;
	struct state_buf b = { 0 };
	struct state_rd r;
	char err[256];

	(void)state;
	agg_opts_defaults(&o);
	struct agg *a = filled(&o);
	agg_save(a, &b);

	other = o;
	other.max_series = o.max_series + 1;
	struct agg *c = agg_new_opts(&other);
	state_rd_init(&r, b.data, b.len);
	assert_int_equal(agg_load(c, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "other --metrics.* options"));
	agg_free(c);

	/* Cut short anywhere: refused, never a crash. */
	for (size_t cut = 0; cut < b.len; cut += 7) {
		c = agg_new_opts(&o);
		state_rd_init(&r, b.data, cut);
		assert_int_equal(agg_load(c, &r, err, sizeof err), -1);
		agg_free(c);
	}
	/* A slot key naming a label that does not exist. */
	b.data[b.len - 24 + 7] ^= 0x10;
	c = agg_new_opts(&o);
	state_rd_init(&r, b.data, b.len);
	assert_int_equal(agg_load(c, &r, err, sizeof err), -1);
	agg_free(c);
	agg_free(a);
	state_buf_free(&b);
}

/* A counter section saved before not_attempted (17 reasons, "other" last)
 * loads with every count under its reason: the file of an upgraded
 * exporter keeps its counts. The old section is made from a new one by
 * rewriting the reasons array's size and indices as version 2 wrote them. */
static void
test_agg_reasons_v2(void **state)
{
	struct agg_opts o;
	struct state_buf b = { 0 };
	struct state_rd r;
	char err[256];
	const int v2 = 17;

	(void)state;
	agg_opts_defaults(&o);
	struct agg *a = agg_new_opts(&o);
	struct mp_event ev = status(550, 5, 1, 1, "example.com", "mx1");
	agg_record(a, &ev);
	agg_record_reason(a, &ev, REASON_UNKNOWN_RECIPIENT);
	agg_record_reason(a, &ev, REASON_POLICY);
	agg_record_reason(a, &ev, REASON_OTHER);
	agg_record_reason(a, &ev, REASON_OTHER);
	ev = status(451, 4, 3, 0, "example.net", "mx1");
	ev.mta = MP_MTA_EXIM;
	agg_record(a, &ev);
	agg_record_reason(a, &ev, REASON_OTHER);
	agg_save(a, &b);

	/* 6 option words, the flat count, then the fourth flat: reasons. */
	size_t off = 7 * 8;
	for (int f = 0; f < 3; f++)
		off += 16 + 16 * le64_get(b.data + off + 8);
	uint64_t n = le64_get(b.data + off), nz = le64_get(b.data + off + 8);
	assert_int_equal(n % AGG_REASONS, 0);
	assert_int_equal(nz, 4);
	le64_put(b.data + off, n / AGG_REASONS * v2);
	for (uint64_t j = 0; j < nz; j++) {
		unsigned char *p = b.data + off + 16 + 16 * j;
		uint64_t idx = le64_get(p), rr = idx % AGG_REASONS;
		assert_true(rr != REASON_NOT_ATTEMPTED);
		le64_put(p, idx / AGG_REASONS * v2 + (rr == REASON_OTHER ? (uint64_t)v2 - 1 : rr));
	}
	struct agg *c = agg_new_opts(&o);
	state_rd_init(&r, b.data, b.len);
	assert_int_equal(agg_load(c, &r, err, sizeof err), 0);
	assert_same(a, c);
	assert_int_equal(agg_reason_count(c, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 5, REASON_OTHER), 2);
	assert_int_equal(agg_reason_count(c, MP_MTA_EXIM, MP_DIR_OUTBOUND, 4, REASON_OTHER), 1);
	assert_int_equal(agg_reason_count(c, MP_MTA_POSTFIX, MP_DIR_OUTBOUND, 5,
	    REASON_NOT_ATTEMPTED), 0);
	agg_free(c);

	/* Any other size is still another layout. */
	le64_put(b.data + off, n / AGG_REASONS * 16);
	c = agg_new_opts(&o);
	state_rd_init(&r, b.data, b.len);
	assert_int_equal(agg_load(c, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "another layout"));
	agg_free(c);
	agg_free(a);
	state_buf_free(&b);
}

/* ---- tailer resume ------------------------------------------------------ */

struct seen {
	int n;
	int ids[4096];
};

static void
on_line(void *ctx, const char *line, size_t len, int source)
{
	struct seen *s = ctx;

	(void)source;
	assert_true(len > 5 && s->n < 4096);
	s->ids[s->n++] = atoi(line + 5);
}

static void
append_lines(const char *path, int from, int to, const char *tail)
{
	FILE *fp = fopen(path, "a");

	assert_non_null(fp);
	for (int i = from; i < to; i++)
		fprintf(fp, "line %d\n", i);
	if (tail)
		fputs(tail, fp);
	fclose(fp);
}

static struct tail_set *
start(const char *path, struct seen *s, const struct tail_pos *pos, int npos)
{
	struct tail_opts o;
	char err[256];
	struct tail_set *ts;

	tail_opts_defaults(&o);
	o.rotate_wait_ms = 0;
	ts = tail_set_new(&o, on_line, s);
	assert_non_null(ts);
	if (npos >= 0)
		assert_int_equal(tail_set_add_resume(ts, path, pos, npos, err, sizeof err), 0);
	else
		assert_int_equal(tail_set_add(ts, path, err, sizeof err), 0);
	for (int i = 0; i < 5; i++) {
		tail_set_process(ts);
		usleep(2000);
	}
	return ts;
}

/* The ids seen, in any order, are exactly from..to-1. */
static void
assert_ids(const struct seen *s, int from, int to)
{
	static char hit[4096];

	memset(hit, 0, sizeof hit);
	assert_int_equal(s->n, to - from);
	for (int i = 0; i < s->n; i++) {
		assert_true(s->ids[i] >= from && s->ids[i] < to);
		assert_false(hit[s->ids[i]]);
		hit[s->ids[i]] = 1;
	}
}

static int
save(struct tail_set *ts, struct tail_pos *pos)
{
	int n = tail_set_positions(ts, 0, pos, TAIL_POS_MAX);

	assert_true(n >= 0);
	tail_set_free(ts);
	return n;
}

static void
test_resume_same_file(void **state)
{
	char path[128];
	struct tail_pos pos[TAIL_POS_MAX];
	static struct seen s1, s2;
	int n;

	(void)state;
	path_of(path, sizeof path, "same.log");
	/* An unfinished last line is not counted, and not skipped either. */
	append_lines(path, 0, 100, "line 10");
	memset(&s1, 0, sizeof s1);
	n = save(start(path, &s1, NULL, -1), pos);
	assert_int_equal(s1.n, 0);  /* --maillog.start=end */
	memset(&s1, 0, sizeof s1);
	/* A state with no position for the path: read what is there. */
	n = save(start(path, &s1, pos, 0), pos);
	assert_int_equal(n, 1);
	assert_ids(&s1, 0, 100);
	append_lines(path, 0, 0, "0\n");  /* finishes "line 100" */
	append_lines(path, 101, 150, NULL);
	memset(&s2, 0, sizeof s2);
	n = save(start(path, &s2, pos, n), pos);
	assert_ids(&s2, 100, 150);
}

static void
test_resume_rotated(void **state)
{
	char path[128], rotated[128];
	struct tail_pos pos[TAIL_POS_MAX];
	static struct seen s;
	int n;

	(void)state;
	path_of(path, sizeof path, "rot.log");
	path_of(rotated, sizeof rotated, "rot.log.1");
	append_lines(path, 0, 40, NULL);
	memset(&s, 0, sizeof s);
	n = save(start(path, &s, pos, 0), pos);
	assert_ids(&s, 0, 40);
	/* While stopped: more lines, rotation, and lines in the new file. */
	append_lines(path, 40, 60, NULL);
	assert_int_equal(rename(path, rotated), 0);
	append_lines(path, 60, 90, NULL);
	memset(&s, 0, sizeof s);
	struct tail_set *ts = start(path, &s, pos, n);
	assert_ids(&s, 40, 90);
	tail_set_free(ts);
}

static void
test_resume_truncated(void **state)
{
	char path[128];
	struct tail_pos pos[TAIL_POS_MAX];
	static struct seen s;
	int n;

	(void)state;
	path_of(path, sizeof path, "trunc.log");
	append_lines(path, 0, 50, NULL);
	memset(&s, 0, sizeof s);
	n = save(start(path, &s, pos, 0), pos);
	assert_ids(&s, 0, 50);
	/* Truncated and regrown past the old offset: same inode, other bytes. */
	assert_int_equal(truncate(path, 0), 0);
	append_lines(path, 100, 200, NULL);
	memset(&s, 0, sizeof s);
	n = save(start(path, &s, pos, n), pos);
	assert_ids(&s, 100, 200);
	/* Truncated to less than the offset. */
	assert_int_equal(truncate(path, 0), 0);
	append_lines(path, 300, 310, NULL);
	memset(&s, 0, sizeof s);
	tail_set_free(start(path, &s, pos, n));
	assert_ids(&s, 300, 310);
}

static void
test_resume_gone(void **state)
{
	char path[128];
	struct tail_pos pos[TAIL_POS_MAX];
	static struct seen s;
	int n;

	(void)state;
	path_of(path, sizeof path, "gone.log");
	append_lines(path, 0, 10, NULL);
	memset(&s, 0, sizeof s);
	n = save(start(path, &s, pos, 0), pos);
	/* Deleted and recreated: the new file is read whole. */
	assert_int_equal(unlink(path), 0);
	append_lines(path, 10, 30, NULL);
	memset(&s, 0, sizeof s);
	tail_set_free(start(path, &s, pos, n));
	assert_ids(&s, 10, 30);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_agg_round_trip),
		cmocka_unit_test(test_agg_refuses),
		cmocka_unit_test(test_agg_reasons_v2),
		cmocka_unit_test(test_resume_same_file),
		cmocka_unit_test(test_resume_rotated),
		cmocka_unit_test(test_resume_truncated),
		cmocka_unit_test(test_resume_gone),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
