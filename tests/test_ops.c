/*
 * test_ops.c - the operational families' table (parsers/ops.h), the word
 * readers parsers fill labels with, the store's save/load/publish, and the
 * golden files' coverage of every family: a family no golden line
 * increments is a family no parser feeds (postfix_exporter shipped several
 * such), so this test fails on it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "store/aggregate.h"
#include "store/aggregate_state.h"
#include "tests/golden.h"
#include "store/opstore.h"
#include "tests/op_event.h"
#include "store/state.h"

static int
valid_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Names valid and unique, counters end in _total and histograms do not,
 * labels distinct and never "mta" or "le", values unique, bounds rising. */
static void
test_table(void **state)
{
	(void)state;
	assert_null(mp_op_family(MP_OPF_NONE));
	assert_null(mp_op_family(MP_OPF_COUNT));
	for (unsigned f = 1; f < MP_OPF_COUNT; f++) {
		const struct mp_op_family_desc *d = mp_op_family(f);

		assert_non_null(d);
		assert_true(valid_name(d->name));
		assert_memory_equal(d->name, "maillog_", 8);
		assert_true(strlen(d->help) > 20);
		assert_true(d->histogram ? !has_suffix(d->name, "_total") :
		    has_suffix(d->name, "_total"));
		for (unsigned g = 1; g < f; g++)
			assert_string_not_equal(mp_op_family(g)->name, d->name);
		assert_true(d->nlabels <= MP_OP_LABELS);
		for (unsigned l = 0; l < d->nlabels; l++) {
			const struct mp_op_label *lab = &d->labels[l];
			assert_true(valid_name(lab->name));
			assert_string_not_equal(lab->name, "mta");
			assert_string_not_equal(lab->name, "le");
			assert_true(lab->nvalues > 0 && lab->nvalues <= 255);
			for (unsigned k = 0; k < l; k++)
				assert_string_not_equal(d->labels[k].name, lab->name);
			for (unsigned v = 0; v < lab->nvalues; v++)
				for (unsigned w = 0; w < v; w++)
					assert_string_not_equal(lab->values[v], lab->values[w]);
		}
		if (d->histogram) {
			assert_true(d->nbounds > 0 && d->nbounds < 31);
			for (unsigned b = 1; b < d->nbounds; b++)
				assert_true(d->bounds[b] > d->bounds[b - 1]);
		} else {
			assert_int_equal(d->nbounds, 0);
		}
	}
}

static void
test_op_valid(void **state)
{
	struct mp_op op = { .family = MP_OPF_TLS,
		.label = { MP_DIR_INBOUND, MP_TLSP_TLSV1_3, MP_TLST_VERIFIED } };
	(void)state;

	assert_true(mp_op_valid(&op));
	op.label[2] = MP_TLST_COUNT;
	assert_false(mp_op_valid(&op));
	op = (struct mp_op){ .family = MP_OPF_SMTPD_CONNECTS, .label = { 1, 0, 0 } };
	assert_false(mp_op_valid(&op));   /* a label the family does not have */
	op = (struct mp_op){ .family = MP_OPF_QMGR_SIZE, .value = NAN };
	assert_false(mp_op_valid(&op));
	op.value = INFINITY;
	assert_false(mp_op_valid(&op));
	op.value = -1;
	assert_false(mp_op_valid(&op));
	op.value = 0;
	assert_true(mp_op_valid(&op));
	op.family = MP_OPF_COUNT;
	assert_false(mp_op_valid(&op));
}

#define W(s) (s), (sizeof(s) - 1)

static void
test_words(void **state)
{
	(void)state;
	assert_int_equal(mp_op_cmd(W("DATA")), MP_CMD_DATA);
	assert_int_equal(mp_op_cmd(W("rcpt")), MP_CMD_RCPT);
	assert_int_equal(mp_op_cmd(W("END-OF-MESSAGE")), MP_CMD_END_OF_MESSAGE);
	assert_int_equal(mp_op_cmd(W("CONNECT")), MP_CMD_CONNECT);
	assert_int_equal(mp_op_cmd(W("MAIL FROM")), MP_CMD_MAIL);
	assert_int_equal(mp_op_cmd(W("UNKNOWN")), MP_CMD_OTHER);
	assert_int_equal(mp_op_cmd(W("DAT")), MP_CMD_OTHER);
	assert_int_equal(mp_op_cmd(W("")), MP_CMD_OTHER);
	assert_int_equal(mp_op_sasl(W("PLAIN")), MP_SASL_PLAIN);
	assert_int_equal(mp_op_sasl(W("cram-md5")), MP_SASL_CRAM_MD5);
	assert_int_equal(mp_op_sasl(W("SCRAM-SHA-256")), MP_SASL_SCRAM_SHA_256);
	assert_int_equal(mp_op_sasl(W("PLAINX")), MP_SASL_OTHER);
	assert_int_equal(mp_op_sasl(W("")), MP_SASL_UNKNOWN);
	/* "none" is our value for "not authenticated", never a mechanism read. */
	assert_int_equal(mp_op_sasl(W("none")), MP_SASL_OTHER);
	assert_int_equal(mp_op_tls_protocol(W("TLSv1.3")), MP_TLSP_TLSV1_3);
	assert_int_equal(mp_op_tls_protocol(W("TLS1.2")), MP_TLSP_TLSV1_2);
	assert_int_equal(mp_op_tls_protocol(W("TLSv1")), MP_TLSP_TLSV1);
	assert_int_equal(mp_op_tls_protocol(W("SSLv3")), MP_TLSP_SSLV3);
	assert_int_equal(mp_op_tls_protocol(W("TLSv1.4")), MP_TLSP_OTHER);
}


/* ASCII letters equal in either case, every other byte only to itself. */
static int
caseless_eq(const char *s, const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)s[i], b = (unsigned char)w[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b + 32);
		if (a != b)
			return 0;
	}
	return 1;
}

/* mp_op_tls_protocol as it was, a list of words compared caselessly: what
 * the positional reader must answer on every input. */
static enum mp_tls_protocol
tls_protocol_by_list(const char *s, size_t len)
{
	static const struct { const char *w; enum mp_tls_protocol p; } words[] = {
		{ "SSLv3", MP_TLSP_SSLV3 }, { "TLSv1", MP_TLSP_TLSV1 },
		{ "TLSv1.0", MP_TLSP_TLSV1 }, { "TLSv1.1", MP_TLSP_TLSV1_1 },
		{ "TLSv1.2", MP_TLSP_TLSV1_2 }, { "TLSv1.3", MP_TLSP_TLSV1_3 },
		{ "SSL3.0", MP_TLSP_SSLV3 }, { "TLS1.0", MP_TLSP_TLSV1 },
		{ "TLS1", MP_TLSP_TLSV1 }, { "TLS1.1", MP_TLSP_TLSV1_1 },
		{ "TLS1.2", MP_TLSP_TLSV1_2 }, { "TLS1.3", MP_TLSP_TLSV1_3 },
	};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i].w) == len && caseless_eq(s, words[i].w, len))
			return words[i].p;
	return MP_TLSP_OTHER;
}

static void
check_tls_protocol(const char *s, size_t len)
{
	/* A copy of exactly len bytes on the heap: a read past it is
	 * ASan's to catch. */
	char *c = malloc(len > 0 ? len : 1);

	assert_non_null(c);
	memcpy(c, s, len);
	if (mp_op_tls_protocol(c, len) != tls_protocol_by_list(c, len))
		fail_msg("mp_op_tls_protocol(\"%.*s\", %zu): %d, the list says %d", (int)len, s,
		    len, mp_op_tls_protocol(c, len), tls_protocol_by_list(c, len));
	free(c);
}

/* Every word in every case, every word with each byte changed to every
 * other byte, cut short and made longer, and random strings of the bytes
 * the words are made of. */
static void
test_tls_protocol_as_list(void **state)
{
	static const char *const words[] = {
		"SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3",
		"SSL3.0", "TLS1.0", "TLS1", "TLS1.1", "TLS1.2", "TLS1.3",
	};
	static const char alphabet[] = "TtLlSsVv0123459.x \x80\xff";
	char b[16];
	unsigned long seed = 20261207;

	(void)state;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);

		for (unsigned m = 0; m < 1u << n; m++) {
			for (size_t k = 0; k < n; k++) {
				char c = words[i][k];
				b[k] = m >> k & 1 && c >= 'a' && c <= 'z' ? (char)(c - 32) :
				    m >> k & 1 && c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
			}
			check_tls_protocol(b, n);
		}
		for (size_t k = 0; k < n; k++) {
			memcpy(b, words[i], n);
			for (unsigned v = 0; v < 256; v++) {
				b[k] = (char)v;
				check_tls_protocol(b, n);
			}
		}
		for (size_t k = 0; k <= n; k++)
			check_tls_protocol(words[i], k);
		for (unsigned v = 0; v < 256; v++) {
			memcpy(b, words[i], n);
			b[n] = (char)v;
			check_tls_protocol(b, n + 1);
		}
	}
	for (int r = 0; r < 200000; r++) {
		size_t n;

		seed = seed * 6364136223846793005u + 1442695040888963407u;
		n = (size_t)(seed >> 33) % 9;
		for (size_t k = 0; k < n; k++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			b[k] = alphabet[(seed >> 33) % (sizeof alphabet - 1)];
		}
		check_tls_protocol(b, n);
	}
}

/* Every op counter and histogram, and the cipher labels, come back from
 * the state file and through agg_publish exactly. */
static void
test_save_load_publish(void **state)
{
	struct agg_opts o;
	struct agg *a, *b, *c;
	struct state_buf buf = { 0 };
	struct state_rd r;
	char err[256], cipher[] = "TLS_AES_256_GCM_SHA384";
	uint8_t lab[MP_OP_LABELS] = { MP_DIR_OUTBOUND, MP_TLSP_TLSV1_3, MP_TLST_VERIFIED };
	uint64_t bk[32];
	double sum;
	(void)state;

	agg_opts_defaults(&o);
	o.tls_cipher = 1;
	a = agg_new_opts(&o);
	b = agg_new_opts(&o);
	c = agg_new_opts(&o);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	struct mp_event ev = op_event(MP_MTA_EXIM, MP_OPF_TLS, lab[0], lab[1], lab[2], 0);
	ev.tls_cipher = cipher;
	ev.tls_cipher_len = strlen(cipher);
	agg_record_ops(a, &ev);
	agg_record_ops(a, &ev);
	ev = op_event(MP_MTA_SENDMAIL, MP_OPF_RCVD_SIZE, 0, 0, 0, 5000);
	agg_record_ops(a, &ev);

	agg_save(a, &buf);
	state_rd_init(&r, buf.data, buf.len);
	assert_int_equal(agg_load(b, &r, err, sizeof err), 0);
	agg_publish(c, a);
	for (int i = 0; i < 2; i++) {
		const struct opstore *s = agg_ops(i == 0 ? b : c);
		assert_int_equal(opstore_counter(s, MP_MTA_EXIM, MP_OPF_TLS,
		    opstore_combo(MP_OPF_TLS, lab)), 2);
		assert_int_equal(opstore_cipher_count(s), 1);
		assert_string_equal(opstore_cipher_name(s, 1), cipher);
		assert_int_equal(opstore_cipher_counter(s, MP_MTA_EXIM, MP_DIR_OUTBOUND, 1), 2);
		assert_int_equal(opstore_histogram(s, MP_MTA_SENDMAIL, MP_OPF_RCVD_SIZE, 0,
		    bk, &sum), 1);
		assert_true(sum == 5000);
		assert_int_equal(bk[2], 1);   /* (4096, 16384] */
	}
	/* A file saved with the cipher family on is refused with it off. */
	agg_free(b);
	o.tls_cipher = 0;
	b = agg_new_opts(&o);
	state_rd_init(&r, buf.data, buf.len);
	assert_int_equal(agg_load(b, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "tls-cipher on"));
	state_buf_free(&buf);
	agg_free(a);
	agg_free(b);
	agg_free(c);
}

/*
 * The counters of MTA ids that never counted are never read (opstore's
 * mtas bits): a render reads every family of every id, and reading their
 * untouched zero pages would fault (about 15 us each here) for 48 KiB of
 * zeros. This thread's faults are counted across such a read; the counts
 * of the id that did count are all there.
 */
static void
test_unused_mtas_untouched(void **state)
{
	struct agg_opts o;
	struct agg *a;
	uint8_t lab[MP_OP_LABELS] = { MP_DIR_OUTBOUND, MP_TLSP_TLSV1_3, MP_TLST_VERIFIED };
	uint64_t bk[64], total = 0;
	double sum;
	struct rusage r0, r1;
	(void)state;

	agg_opts_defaults(&o);
	o.tls_cipher = 1;
	assert_non_null(a = agg_new_opts(&o));
	struct mp_event ev = op_event(MP_MTA_EXIM, MP_OPF_TLS, lab[0], lab[1], lab[2], 0);
	ev.tls_cipher = "TLS_AES_256_GCM_SHA384";
	ev.tls_cipher_len = strlen(ev.tls_cipher);
	agg_record_ops(a, &ev);
	ev = op_event(MP_MTA_EXIM, MP_OPF_RCVD_SIZE, 0, 0, 0, 5000);
	agg_record_ops(a, &ev);

	const struct opstore *s = agg_ops(a);
	getrusage(RUSAGE_THREAD, &r0);
	for (int m = 0; m < MP_MTA_MAX; m++) {
		for (unsigned f = 1; f < MP_OPF_COUNT; f++) {
			const struct mp_op_family_desc *d = mp_op_family(f);
			for (unsigned c = 0; c < mp_op_combinations(d); c++)
				total += d->histogram ? opstore_histogram(s, m, f, c, bk, &sum) :
				    opstore_counter(s, m, f, c);
		}
		for (int dir = 0; dir < MP_DIR_COUNT; dir++)
			for (unsigned id = 0; id <= OPSTORE_CIPHERS; id++)
				total += opstore_cipher_counter(s, m, (enum mp_direction)dir, id);
	}
	getrusage(RUSAGE_THREAD, &r1);
	print_message("read every op counter of %d MTA ids: %ld page faults\n", MP_MTA_MAX,
	    r1.ru_minflt - r0.ru_minflt);
	/* TLS session, its cipher, one size observed. */
	assert_int_equal(total, 3);
	assert_true(r1.ru_minflt - r0.ru_minflt <= 1);
	agg_free(a);
}

/*
 * opstore_record finds a combination's counter by strides (label[i] *
 * stride[i]), the readers by opstore_combo() * slots: every combination
 * of every family, recorded alone in a new store for three MTA ids, must
 * be read back where the readers look, once, and nowhere else. An op
 * with a label past its values is not counted.
 */
static void
test_record_reads_back(void **state)
{
	size_t checked = 0;
	(void)state;

	for (unsigned f = 1; f < MP_OPF_COUNT; f++) {
		const struct mp_op_family_desc *d = mp_op_family(f);
		unsigned ncombo = mp_op_combinations(d);

		for (unsigned want = 0; want < ncombo; want++) {
			static const int mtas[] = { MP_MTA_POSTFIX, MP_MTA_SENDMAIL, MP_MTA_MAX - 1 };
			uint8_t lab[MP_OP_LABELS] = { 0, 0, 0 };
			unsigned rest = want;

			for (unsigned l = d->nlabels; l-- > 0;) {
				lab[l] = (uint8_t)(rest % d->labels[l].nvalues);
				rest /= d->labels[l].nvalues;
			}
			assert_int_equal(opstore_combo(f, lab), want);
			for (size_t k = 0; k < sizeof mtas / sizeof mtas[0]; k++) {
				struct opstore *s = opstore_new(0);
				struct mp_event ev = op_event(mtas[k], f, lab[0], lab[1], lab[2], 2.5);
				uint64_t bk[64];
				double sum;

				assert_non_null(s);
				assert_int_equal(opstore_record(s, &ev, NULL, NULL), 1);
				for (int m = 0; m < MP_MTA_MAX; m++) {
					for (unsigned c = 0; c < ncombo; c++) {
						uint64_t v = d->histogram ?
						    opstore_histogram(s, m, f, c, bk, &sum) :
						    opstore_counter(s, m, f, c);
						assert_int_equal(v, m == mtas[k] && c == want);
					}
				}
				/* One value past the last of any label: not counted. */
				for (unsigned l = 0; l < MP_OP_LABELS; l++) {
					struct mp_event bad = ev;
					bad.ops[0].label[l] = (uint8_t)(l < d->nlabels ?
					    d->labels[l].nvalues : 1);
					assert_int_equal(opstore_record(s, &bad, NULL, NULL), 0);
				}
				opstore_free(s);
				checked++;
			}
		}
	}
	print_message("%zu (family, combination, MTA) cases\n", checked);
	assert_true(checked > 100);
}

/* The name an op> line starts with for family f. */
static const char *
short_name(unsigned f)
{
	return mp_op_family(f)->name + strlen("maillog_");
}

static void
test_every_family_fed(void **state)
{
	static const struct { const char *file; int mta; } files[] = {
		{ "postfix", MP_MTA_POSTFIX }, { "exim", MP_MTA_EXIM },
		{ "sendmail", MP_MTA_SENDMAIL }, { "opensmtpd", MP_MTA_OPENSMTPD },
		{ "mixed", MP_MTA_NONE },
	};
	int seen[MP_OPF_COUNT] = { 0 };
	(void)state;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct golden_set set;
		char path[512];

		snprintf(path, sizeof path, "%s/data/%s/golden.txt", TESTS_DIR, files[i].file);
		golden_load(&set, path, files[i].mta);
		for (size_t k = 0; k < set.ncases; k++) {
			const char *ops = set.cases[k].ops;
			for (const char *l = ops; l != NULL && *l; l = strchr(l, '\n') + 1) {
				for (unsigned f = 1; f < MP_OPF_COUNT; f++) {
					size_t n = strlen(short_name(f));
					if (strncmp(l, short_name(f), n) == 0 &&
					    (l[n] == ' ' || l[n] == '\n'))
						seen[f]++;
				}
			}
		}
		golden_free(&set);
	}
	for (unsigned f = 1; f < MP_OPF_COUNT; f++) {
		if (seen[f] == 0)
			print_error("no golden line feeds %s\n", mp_op_family(f)->name);
	}
	for (unsigned f = 1; f < MP_OPF_COUNT; f++)
		assert_true(seen[f] > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_op_valid),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_tls_protocol_as_list),
		cmocka_unit_test(test_save_load_publish),
		cmocka_unit_test(test_unused_mtas_untouched),
		cmocka_unit_test(test_record_reads_back),
		cmocka_unit_test(test_every_family_fed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
