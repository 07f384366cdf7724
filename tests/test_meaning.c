/*
 * test_meaning.c - the small pure functions the exposition's families rest
 * on: code meanings from the generated table and domain/host normalisation.
 * (The HTTP content negotiation is in test_negotiate.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "parsers/meaning.h"
#include "parsers/parser.h"
#include "store/topk.h"
#include "tests/xorshift.h"

static const char *
reply(int code)
{
	static char buf[MEANING_BUFSZ];
	return meaning_reply(code, buf, sizeof buf);
}

static const char *
enhanced(unsigned c, unsigned s, unsigned d)
{
	static char buf[MEANING_BUFSZ];
	struct mp_enhanced e = { (uint8_t)c, (uint16_t)s, (uint16_t)d };
	return meaning_enhanced(&e, buf, sizeof buf);
}

static void
test_reply_meanings(void **state)
{
	(void)state;
	assert_string_equal(reply(250), "Requested mail action completed and OK");
	assert_string_equal(reply(550), "Requested action not taken: mailbox unavailable");
	/* Informal codes are marked, and the RFC's meaning follows where it
	 * differs. */
	assert_string_equal(reply(512), "Domain can not be found, unknown host (informal)");
	assert_string_equal(reply(535), "Multiple servers using same IP; authentication required "
	    "(informal); RFC 4954: authentication credentials invalid (5.7.8)");
	assert_string_equal(reply(521), "Domain does not accept mail; RFC 7504: host does not "
	    "accept mail");
	/* Not in the table: the class meaning. */
	assert_string_equal(reply(599), "Other 5xx: Permanent failure (the message bounces)");
	assert_string_equal(reply(299), "Other 2xx: Success");
	assert_string_equal(reply(479), "Other 4xx: Transient failure (the sender retries)");
	/* The table is sorted, so the binary search finds every row. */
	for (size_t i = 1; i < meaning_replies_count; i++)
		assert_true(meaning_replies[i - 1].code < meaning_replies[i].code);
	for (size_t i = 0; i < meaning_replies_count; i++)
		assert_ptr_equal(reply(meaning_replies[i].code), meaning_replies[i].description);
	assert_int_equal(meaning_replies_count, 51);
}

static void
test_enhanced_meanings(void **state)
{
	(void)state;
	assert_string_equal(enhanced(5, 1, 1), "Bad destination mailbox address");
	assert_string_equal(enhanced(4, 1, 1), "Bad destination mailbox address");
	assert_string_equal(enhanced(4, 7, 28), "Mail flood detected");
	assert_string_equal(enhanced(5, 7, 26), "Multiple authentication checks failed");
	assert_string_equal(enhanced(5, 1, 10), "Recipient address has null MX");
	/* Unknown detail: subject and class; unknown subject: class. */
	assert_string_equal(enhanced(5, 7, 999), "Other 5.7.x: Security or policy status; "
	    "Permanent failure (the message bounces)");
	assert_string_equal(enhanced(4, 9, 1), "Other 4.x.x: Transient failure (the sender "
	    "retries)");
	for (size_t i = 0; i < meaning_enhanced_count; i++) {
		const struct meaning_enhanced *m = &meaning_enhanced_codes[i];
		assert_ptr_equal(enhanced(2, (unsigned)m->subject, (unsigned)m->detail),
		    m->description);
	}
	assert_int_equal(meaning_enhanced_count, 79);
}

static void
check_norm(const char *in, const char *want)
{
	char out[TOPK_NAME_MAX + 1];
	size_t n = topk_normalise(in, strlen(in), out);
	if (want == NULL) {
		assert_int_equal(n, 0);
		return;
	}
	assert_int_equal(n, strlen(want));
	assert_string_equal(out, want);
}

static void
test_normalise(void **state)
{
	(void)state;
	char long_label[80], long_name[300];

	check_norm("Gmail.COM", "gmail.com");
	check_norm("mx.example.org.", "mx.example.org");
	check_norm("a-b.x9.example", "a-b.x9.example");
	check_norm("localhost", "localhost");
	check_norm("203.0.113.5", "203.0.113.5");
	check_norm("[203.0.113.5]", "203.0.113.5");
	check_norm("[IPv6:2001:DB8::1]", "2001:db8::1");
	/* IPv6 comes out in canonical form: one client, one label. */
	check_norm("2001:db8::ffff:192.0.2.1", "2001:db8::ffff:c000:201");
	check_norm("", NULL);
	check_norm(".", NULL);
	check_norm("a..b", NULL);
	check_norm("-a.example", NULL);
	check_norm("a-.example", NULL);
	check_norm("a_b.example", NULL);
	check_norm("a\"b.example", NULL);
	check_norm("a\\b", NULL);
	check_norm("caf\xc3\xa9.example", NULL);
	check_norm("a b", NULL);
	check_norm("2001:db8::g", NULL);
	check_norm("a:b", NULL);
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".example");
	check_norm(long_label, NULL);
	for (int i = 0; i < 127; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	strcpy(long_name + 254, "a");
	check_norm(long_name, NULL);
}

/*
 * topk_normalise as it was before its table of name bytes (store/topk.c):
 * lower-casing and range checks a byte, labels counted as they go. Kept
 * here as the reference the table-driven one must agree with.
 */
static size_t
normalise_ipv6_as_before(const char *in, size_t len, char *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (len >= sizeof buf)
		return 0;
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1 ||
	    inet_ntop(AF_INET6, &a, out, TOPK_NAME_MAX + 1) == NULL)
		return 0;
	return strlen(out);
}

static size_t
normalise_as_before(const char *in, size_t len, char *out)
{
	size_t n = 0, label = 0, digits = 0;
	struct in_addr a4;

	if (len >= 2 && in[0] == '[' && in[len - 1] == ']') {
		in++;
		len -= 2;
	}
	if (len > 5 && (in[0] | 0x20) == 'i' && mp_ascii_caseeq(in, "ipv6:", 5)) {
		in += 5;
		len -= 5;
		if (memchr(in, ':', len) == NULL)
			return 0;
	}
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > TOPK_NAME_MAX)
		return 0;
	if (memchr(in, ':', len) != NULL)
		return normalise_ipv6_as_before(in, len, out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || out[n - 1] == '-')
				return 0;
			label = 0;
			digits = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
			if (c >= '0' && c <= '9')
				digits++;
		} else {
			return 0;
		}
		out[n++] = (char)c;
	}
	if (out[n - 1] == '-')
		return 0;
	out[n] = '\0';
	if (digits == label && inet_pton(AF_INET, out, &a4) != 1)
		return 0;
	return n;
}

static void
check_as_before(const char *in, size_t len)
{
	char got[TOPK_NAME_MAX + 1], want[TOPK_NAME_MAX + 1];
	size_t g = topk_normalise(in, len, got), w = normalise_as_before(in, len, want);

	if (g != w || (w > 0 && memcmp(got, want, w + 1) != 0))
		fail_msg("\"%.*s\": %zu \"%.*s\", want %zu \"%.*s\"", (int)len, in, g,
		    (int)g, got, w, (int)w, want);
}

/*
 * The table-driven topk_normalise against the loop it replaced: every
 * byte value at every place of real names and addresses, labels and
 * names around their limits (63 and 64 bytes, TOPK_NAME_MAX), and 300 k
 * random strings, mostly of name bytes (letters of both cases, digits,
 * '-', '.'), the rest ':', brackets, the IPv6 tag and bytes no name holds.
 */
static void
test_normalise_as_before(void **state)
{
	(void)state;
	static const char *const names[] = {
		"mx-1.Example.COM", "gmail.com.", "[203.0.113.5]", "1.2.3.4.in-addr.example",
		"[IPv6:2001:db8::1]", "::ffff:192.0.2.1", "a", "a-b", "x9.y", "300.1.1.1",
	};
	static const char name_bytes[] = "aZz09-.", other[] = ":[]_\xc3 iIpPvV6";
	char buf[TOPK_NAME_MAX + 16];
	uint32_t rng = 20201206;
	size_t checks = 0;

	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		size_t len = strlen(names[k]);
		for (size_t i = 0; i <= len; i++) {
			for (int b = 0; b < 256; b++) {
				memcpy(buf, names[k], len);
				buf[i] = (char)b;
				check_as_before(buf, i < len ? len : len + 1);
				checks++;
			}
		}
	}
	for (size_t n = 60; n <= 66; n++) {
		for (int form = 0; form < 4; form++) {
			size_t len = 0;
			if (form & 1)
				len += (size_t)sprintf(buf, "mx.");
			memset(buf + len, form & 2 ? '7' : 'q', n);
			len += n;
			if (form == 3)
				len += (size_t)sprintf(buf + len, ".example");
			check_as_before(buf, len);
			checks++;
		}
	}
	for (size_t n = TOPK_NAME_MAX - 3; n <= TOPK_NAME_MAX + 3; n++) {
		for (size_t i = 0; i < n; i++)
			buf[i] = i % 2 ? '.' : 'a';
		check_as_before(buf, n);
		buf[n - 1] = '.';
		check_as_before(buf, n);
		checks += 2;
	}
	for (int r = 0; r < 300000; r++) {
		size_t len = xorshift32(&rng) % 24;
		/* Mostly name bytes, so most strings get far into the checks. */
		for (size_t i = 0; i < len; i++)
			buf[i] = xorshift32(&rng) % 16 ?
			    name_bytes[xorshift32(&rng) % (sizeof name_bytes - 1)] :
			    other[xorshift32(&rng) % (sizeof other - 1)];
		if (len > 6 && xorshift32(&rng) % 8 == 0)
			memcpy(buf, "IPv6:", 5);
		check_as_before(buf, len);
		checks++;
	}
	assert_true(checks > 300000);
}

/* Inbound domains are client names or addresses: an address literal must
 * be a real IPv4 or IPv6 address, in one spelling, and nothing that merely
 * looks like one becomes a label. */
static void
test_normalise_ip(void **state)
{
	(void)state;
	check_norm("192.0.2.1", "192.0.2.1");
	check_norm("0.0.0.0", "0.0.0.0");
	check_norm("255.255.255.255", "255.255.255.255");
	check_norm("[198.51.100.7]", "198.51.100.7");
	check_norm("256.1.1.1", NULL);
	check_norm("1.2.3", NULL);
	check_norm("1.2.3.4.5", NULL);
	check_norm("01.2.3.4", NULL);
	check_norm("192.0.2.1:25", NULL);
	check_norm("mail.example.123", NULL);
	check_norm("123", NULL);
	/* A name with digit-only labels is still a name if its last is not. */
	check_norm("1.2.3.4.in-addr.example", "1.2.3.4.in-addr.example");
	check_norm("2001:DB8::77", "2001:db8::77");
	check_norm("2001:0db8:0000:0000:0000:0000:0000:0077", "2001:db8::77");
	check_norm("[IPv6:2001:db8::1]", "2001:db8::1");
	check_norm("IPv6:2001:db8::1", "2001:db8::1");
	check_norm("IPv6:mail.example", NULL);
	check_norm("::1", "::1");
	check_norm("::ffff:192.0.2.1", "::ffff:192.0.2.1");
	check_norm("fe80::1%eth0", NULL);
	check_norm("2001:db8::1::2", NULL);
	check_norm("2001:db8:::1", NULL);
	check_norm("1:2:3:4:5:6:7:8:9", NULL);
	check_norm("2001:db8::12345", NULL);
	check_norm("::", "::");
	check_norm(":", NULL);
	check_norm("a:b", NULL);
	check_norm("2001:db8::1 x", NULL);
	check_norm("2001:db8::1\n", NULL);
	check_norm("1111:2222:3333:4444:5555:6666:255.255.255.255:7", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_meanings),
		cmocka_unit_test(test_enhanced_meanings),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_normalise_ip),
		cmocka_unit_test(test_normalise_as_before),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
