/*
 * codes.c - SMTP reply codes, RFC 3463 enhanced status codes, and the
 * direction and outcome label values every parser shares (the mta label's
 * are mta_names.c's).
 *
 * These are the only places that decide what "is a code": parsers locate
 * where a reply is quoted, then ask here whether the bytes there are one.
 * Keeping the syntax in one file means Postfix, Exim and the rest cannot
 * drift apart on what 999 or 5.1234.1 is (not a code, in both cases).
 */
#include "parsers/parser.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Parse a three-digit SMTP reply code, 200..599, at s.
 *
 * The code must end at the end of input or at a non-digit, so "5500" and
 * "55" are not codes, while "550 ", "550-" (a multi-line reply) and "550"
 * at the end of a truncated line are. Returns the code, or 0 if there is
 * none; reads at most four bytes and never past len.
 */
int
mp_parse_reply_code(const char *s, size_t len)
{
	int code;

	if (s == NULL || len < 3)
		return 0;
	if (!is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]))
		return 0;
	if (len > 3 && is_digit(s[3]))
		return 0;
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (code < 200 || code > 599)
		return 0;
	return code;
}

/* Read 1..3 digits at s[*i]; on success advance *i and store the value. */
static int
small_number(const char *s, size_t len, size_t *i, uint16_t *out)
{
	size_t start = *i;
	unsigned v = 0;

	while (*i < len && is_digit(s[*i]) && *i - start < 3) {
		v = v * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
	}
	if (*i == start)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/*
 * Parse an RFC 3463 enhanced status code "[245].[0-9]{1,3}.[0-9]{1,3}" at
 * s into *out.
 *
 * RFC 3463 allows three-digit subjects and details (4.7.28, 5.7.26), so
 * anything longer, or a fourth component ("5.1.1.2"), makes the whole
 * thing not a code rather than a code with trailing junk: we would rather
 * report no enhanced code than a wrong one. Returns the bytes consumed, or
 * 0 with *out zeroed.
 */
size_t
mp_parse_enhanced(const char *s, size_t len, struct mp_enhanced *out)
{
	struct mp_enhanced e = { 0, 0, 0 };
	size_t i = 1;

	out->cls = 0;
	out->subject = 0;
	out->detail = 0;
	if (s == NULL || len < 5)
		return 0;
	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	e.cls = (uint8_t)(s[0] - '0');
	if (s[i++] != '.')
		return 0;
	if (small_number(s, len, &i, &e.subject) == -1)
		return 0;
	if (i >= len || s[i++] != '.')
		return 0;
	if (small_number(s, len, &i, &e.detail) == -1)
		return 0;
	if (i < len && (is_digit(s[i]) || s[i] == '.'))
		return 0;
	*out = e;
	return i;
}

static size_t
put_number(char *buf, unsigned v)
{
	size_t n = 0;

	if (v >= 100)
		buf[n++] = (char)('0' + v / 100);
	if (v >= 10)
		buf[n++] = (char)('0' + v / 10 % 10);
	buf[n++] = (char)('0' + v % 10);
	return n;
}

/*
 * Format e as "5.1.1" into buf, which holds at least MP_ENHANCED_BUFSZ
 * bytes, NUL-terminated. "None" and anything out of range (which
 * mp_parse_enhanced never produces) both give "", so a corrupt event can
 * never overflow buf. Returns the length written. No printf: this runs for
 * every event the aggregator labels.
 */
size_t
mp_format_enhanced(const struct mp_enhanced *e, char *buf)
{
	size_t n = 0;

	if (e == NULL || e->cls == 0 || e->cls > 9 || e->subject > 999 ||
	    e->detail > 999) {
		buf[0] = '\0';
		return 0;
	}
	buf[n++] = (char)('0' + e->cls);
	buf[n++] = '.';
	n += put_number(buf + n, e->subject);
	buf[n++] = '.';
	n += put_number(buf + n, e->detail);
	buf[n] = '\0';
	return n;
}

/*
 * Set ev->cls, the "class" label, by the contract's order of trust: the
 * reply code the line quotes, else its enhanced code, else the outcome the
 * line states. That order is why Postfix's soft_bounce ("dsn=4.1.1" around a
 * quoted "550 5.1.1") is counted as 5xx: the remote server said 5xx.
 *
 * A 3xx code (a server answering 354 where it should not) says nothing
 * about success or failure, so it falls through to the next source.
 * Returns 0, or -1 if no source gives a class (ev->cls is then 0).
 */
int
mp_event_set_class(struct mp_event *ev)
{
	int c = ev->code / 100;

	if (c == 2 || c == 4 || c == 5) {
		ev->cls = (uint8_t)c;
		return 0;
	}
	c = ev->enhanced.cls;
	if (c == 2 || c == 4 || c == 5) {
		ev->cls = (uint8_t)c;
		return 0;
	}
	switch (ev->outcome) {
	case MP_OUTCOME_SENT:
		ev->cls = 2;
		return 0;
	case MP_OUTCOME_DEFERRED:
	case MP_OUTCOME_TEMP_REJECTED:
		ev->cls = 4;
		return 0;
	case MP_OUTCOME_BOUNCED:
	case MP_OUTCOME_EXPIRED:
	case MP_OUTCOME_REJECTED:
		ev->cls = 5;
		return 0;
	default:
		ev->cls = 0;
		return -1;
	}
}

/* The "direction" label value. Never NULL. */
const char *
mp_direction_name(enum mp_direction d)
{
	switch (d) {
	case MP_DIR_OUTBOUND:
		return "outbound";
	case MP_DIR_INBOUND:
		return "inbound";
	default:
		return "unknown";
	}
}

/* The label value for an outcome. Never NULL. */
const char *
mp_outcome_name(enum mp_outcome o)
{
	switch (o) {
	case MP_OUTCOME_NONE:
		return "none";
	case MP_OUTCOME_SENT:
		return "sent";
	case MP_OUTCOME_DEFERRED:
		return "deferred";
	case MP_OUTCOME_BOUNCED:
		return "bounced";
	case MP_OUTCOME_EXPIRED:
		return "expired";
	case MP_OUTCOME_REJECTED:
		return "rejected";
	case MP_OUTCOME_TEMP_REJECTED:
		return "temp_rejected";
	default:
		return "unknown";
	}
}
