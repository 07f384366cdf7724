/*
 * scan.c - small byte scanners every MTA parser needs: a quoted reply's
 * code, an address's domain, a loopback host. Kept in one place for the
 * same reason codes.c is: Postfix, Exim, Sendmail and OpenSMTPD must not
 * drift apart on what counts as the code at the start of a reply.
 */
#include "parsers/parser.h"

#include <string.h>

/*
 * The reply code at s and the enhanced code right behind it: "550 5.1.1",
 * "421-4.7.0" (a flattened or "\n"-joined multi-line reply, whose first
 * line is the one that counts), or "250 Ok" (no enhanced code: enh->cls 0).
 * Returns the code, or 0 when s does not start with one.
 */
int
mp_reply_at(const char *s, size_t len, struct mp_enhanced *enh)
{
	int code = mp_parse_reply_code(s, len);

	enh->cls = 0;
	enh->subject = 0;
	enh->detail = 0;
	if (code != 0 && len > 4 && (s[3] == ' ' || s[3] == '-'))
		mp_parse_enhanced(s + 4, len - 4, enh);
	return code;
}

/*
 * Point ev->domain at the part of "local@domain" (addr[0..len), without
 * angle brackets) after its last '@'. An address without a domain (a local
 * user, "<>") leaves ev->domain as it was.
 */
void
mp_event_set_domain(struct mp_event *ev, const char *addr, size_t len)
{
	size_t i;

	if (addr == NULL || len == 0)
		return;
	for (i = len; i-- > 0;)
		if (addr[i] == '@')
			break;
	if (i == (size_t)-1 || i + 1 >= len)
		return;
	ev->domain = addr + i + 1;
	ev->domain_len = len - i - 1;
}

/*
 * Point ev->domain at a client's identity, for an inbound event: its host
 * name when the log states a real one, else its address (without
 * brackets). name may be NULL or empty; Postfix's "unknown" (no verified
 * reverse name) counts as none. Both come from the client, so nothing is
 * trusted here: the aggregator checks the syntax before a label is made.
 */
void
mp_event_set_client(struct mp_event *ev, const char *name, size_t nlen,
    const char *addr, size_t alen)
{
	if (name != NULL && nlen > 0 &&
	    !(nlen == 7 && mp_ascii_caseeq(name, "unknown", 7))) {
		ev->domain = name;
		ev->domain_len = nlen;
	} else if (addr != NULL && alen > 0) {
		ev->domain = addr;
		ev->domain_len = alen;
	}
}

/*
 * Whether a host name or address is this machine: 127.0.0.0/8, ::1 (also
 * as Exim's and OpenSMTPD's "IPv6:::1"), or "localhost". Used to tell a
 * content filter or re-injection hop from a delivery to another host.
 */
int
mp_is_loopback(const char *a, size_t len)
{
	if (len >= 4 && memcmp(a, "127.", 4) == 0)
		return 1;
	if (len == 3 && memcmp(a, "::1", 3) == 0)
		return 1;
	if (len == 8 && mp_ascii_caseeq(a, "IPv6:::1", 8))
		return 1;
	if (len == 9 && mp_ascii_caseeq(a, "localhost", 9))
		return 1;
	return 0;
}

/* 10^k for the k fractional digits a decimal keeps (18 at most, as in
 * ".123456789012345678"): exact doubles (up to 10^22 they all are). */
static const double pow10_exact[19] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
	1e15, 1e16, 1e17, 1e18,
};

/*
 * A non-negative decimal at s ("12", "0.87"), as seconds, with the bytes
 * used in *used (may be NULL). Returns -1 when there is no digit. Never
 * reads past len: strtod would need a NUL the line does not have.
 *
 * The digits (12 before the point at most, 18 in all; later ones are read
 * and ignored) gather into one integer, divided once by the power of ten
 * of the fractional ones. Both are exact doubles below 2^53 (15 digits),
 * so the one division gives the nearest double, as strtod does. Adding
 * each fractional digit times a running scale, as this did, took a
 * division a digit, each waiting on the last (Postfix's delay= and
 * delays= hold about eight), and was off by an ulp or two for a third of
 * three-digit fractions ("0.3" came out as 0.30000000000000004).
 */
double
mp_decimal_at(const char *s, size_t len, size_t *used)
{
	uint64_t m = 0;
	size_t i = 0, digits = 0, frac = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9' && i < 12) {
		m = m * 10 + (uint64_t)(s[i] - '0');
		i++;
		digits++;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (digits < 18) {
				m = m * 10 + (uint64_t)(s[i] - '0');
				frac++;
			}
			i++;
			digits++;
		}
	}
	if (used != NULL)
		*used = i;
	if (digits == 0)
		return -1;
	return frac > 0 ? (double)m / pow10_exact[frac] : (double)m;
}

/*
 * A duration written as units, "1w2d3h4m5s", "4m", "0.004s" (Exim's QT= and
 * DT=, OpenSMTPD's delay=), in seconds; *used gets the bytes read. Returns
 * -1 if s does not start with at least one number-and-unit pair.
 */
double
mp_units_duration_at(const char *s, size_t len, size_t *used)
{
	double total = 0, v;
	size_t i = 0, n;
	int pairs = 0;

	while (i < len) {
		v = mp_decimal_at(s + i, len - i, &n);
		if (v < 0 || i + n >= len)
			break;
		switch (s[i + n]) {
		case 'w':
			v *= 7 * 86400;
			break;
		case 'd':
			v *= 86400;
			break;
		case 'h':
			v *= 3600;
			break;
		case 'm':
			v *= 60;
			break;
		case 's':
			break;
		default:
			goto out;
		}
		total += v;
		i += n + 1;
		pairs++;
	}
out:
	if (used != NULL)
		*used = i;
	return pairs > 0 ? total : -1;
}

/* Whether one of the names starts at s[0] (n bytes left). */
static int
filter_word_at(const char *s, size_t n)
{
#define AT(lit) (n >= sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)
	switch (s[0]) {
	case 'a': return AT("amavis");
	case 's': return AT("spamc") || AT("spamassassin");
	case 'd': return AT("dfilt");
	case 'r': return AT("rspamd");
	case 'c': return AT("clamsmtp");
	case 'm': return AT("mailscanner");
	case 'f': return AT("filter");
	default: return 0;
	}
#undef AT
}

/*
 * Whether s[0..len) names a content filter: contains "amavis",
 * "spamassassin", "spamc", "dfilt", "rspamd", "clamsmtp", "mailscanner" or
 * "filter" (Postfix's "content_filter" contains "filter"), the names admins
 * give their filter transports, routers and syslog_names. Postfix and Exim
 * asked this with one mp_find per name, eight passes over the field on
 * every delivery, a third of Exim's parsing (callgrind). One pass instead:
 * at each byte, only the names that start with it are compared, so the
 * answer is the same "does any occur" (test_postfix_scan compares it with
 * the eight searches on every name at every offset, cut and in other
 * case).
 */
int
mp_filter_name(const char *s, size_t len)
{
	/* The second byte of the names that start with each byte; 0: none
	 * does. The names' first two bytes differ ("am", "sp", "df", "rs",
	 * "cl", "ma", "fi"), so a place is worth a compare only where both
	 * match: one test a byte that is almost never true, where a switch on
	 * each byte was an indirect jump that mispredicted on the letters of
	 * every transport and router name (half of the samples of Exim's
	 * destination(), perf annotate). */
	static const char second[256] = {
		['a'] = 'm', ['s'] = 'p', ['d'] = 'f', ['r'] = 's', ['c'] = 'l', ['m'] = 'a',
		['f'] = 'i',
	};

	/* The shortest name has 5 bytes. */
	for (size_t i = 0; i + 5 <= len; i++) {
		char want = second[(unsigned char)s[i]];

		if ((want != 0) & (s[i + 1] == want) && filter_word_at(s + i, len - i))
			return 1;
	}
	return 0;
}
