/*
 * syslog.c - split a mail-log line into its syslog (or Exim mainlog)
 * header and the message, and turn header timestamps into epoch seconds.
 *
 * One file can mix header styles (a host that switched rsyslog templates,
 * or several hosts forwarding into one file), so the style is decided per
 * line, by the first bytes alone. Everything is a hand-written scanner over
 * (pointer, length): this runs on every line, before any prefilter, and a
 * regex here would cost more than the whole Postfix parser.
 */
/* tests/test_syslog_fixed.c compiles this file a second time with
 * MP_SYSLOG_REFERENCE: without rfc3164_fixed, and under other names. */
#ifdef MP_SYSLOG_REFERENCE
#define mp_syslog_parse mp_syslog_parse_reference
#define mp_time_to_epoch mp_time_to_epoch_reference
#endif

#include "parsers/find.h"
#include "parsers/mp.h"

#include <string.h>

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read exactly n digits at s[*i] into *out and advance *i. */
static int
fixed_digits(const char *s, size_t len, size_t *i, size_t n, unsigned *out)
{
	unsigned v = 0;

	if (len - *i < n)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit(s[*i + k]))
			return -1;
		v = v * 10 + (unsigned)(s[*i + k] - '0');
	}
	*i += n;
	*out = v;
	return 0;
}

static int
expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

/* Two digits at p as a number, or -1. */
static int
two_digits(const char *p)
{
	return is_digit(p[0]) && is_digit(p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}

/* "hh:mm:ss" into t: every line has one, so it is read in one go. */
static int
clock_time(const char *s, size_t len, size_t *i, struct mp_time *t)
{
	const char *p = s + *i;
	int h, m, sec;

	if (len - *i < 8 || p[2] != ':' || p[5] != ':')
		return -1;
	h = two_digits(p);
	m = two_digits(p + 3);
	sec = two_digits(p + 6);
	if (h < 0 || m < 0 || sec < 0 || h > 23 || m > 59 || sec > 60)
		return -1;
	t->hour = (uint8_t)h;
	t->min = (uint8_t)m;
	t->sec = (uint8_t)sec;
	*i += 8;
	return 0;
}

/* An optional ".ddd..." fraction, kept to microseconds. */
static void
fraction(const char *s, size_t len, size_t *i, struct mp_time *t)
{
	unsigned usec = 0, scale = 100000;

	if (*i + 1 >= len || s[*i] != '.' || !is_digit(s[*i + 1]))
		return;
	(*i)++;
	while (*i < len && is_digit(s[*i])) {
		usec += (unsigned)(s[*i] - '0') * scale;
		scale /= 10;
		(*i)++;
	}
	t->usec = usec;
}

/* "YYYY-MM-DD" into t. */
static int
calendar_date(const char *s, size_t len, size_t *i, struct mp_time *t)
{
	unsigned y, mo, d;

	if (fixed_digits(s, len, i, 4, &y) == -1 || expect(s, len, i, '-') == -1 ||
	    fixed_digits(s, len, i, 2, &mo) == -1 || expect(s, len, i, '-') == -1 ||
	    fixed_digits(s, len, i, 2, &d) == -1)
		return -1;
	if (y == 0 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	t->year = (int16_t)y;
	t->mon = (uint8_t)mo;
	t->mday = (uint8_t)d;
	return 0;
}

/*
 * RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". A missing offset
 * is tolerated as local time: some rsyslog templates drop it.
 */
static int
rfc3339_time(const char *s, size_t len, size_t *i, struct mp_time *t)
{
	unsigned oh, om;
	int sign;

	if (calendar_date(s, len, i, t) == -1 || expect(s, len, i, 'T') == -1 ||
	    clock_time(s, len, i, t) == -1)
		return -1;
	fraction(s, len, i, t);
	if (*i < len && s[*i] == 'Z') {
		(*i)++;
		t->has_offset = 1;
		t->utc_offset = 0;
	} else if (*i < len && (s[*i] == '+' || s[*i] == '-')) {
		sign = s[*i] == '-' ? -1 : 1;
		(*i)++;
		if (fixed_digits(s, len, i, 2, &oh) == -1 ||
		    expect(s, len, i, ':') == -1 ||
		    fixed_digits(s, len, i, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		t->has_offset = 1;
		t->utc_offset = sign * (int32_t)(oh * 3600 + om * 60);
	}
	return 0;
}

#define MON3(a, b, c) ((uint32_t)(unsigned char)(a) << 16 | \
    (uint32_t)(unsigned char)(b) << 8 | (uint32_t)(unsigned char)(c))

/*
 * The month of the three bytes at p, 1..12, or 0. Every RFC 3164 line comes
 * through here, and a walk of "JanFeb...Dec" with memcmp cost up to twelve
 * calls (November, the eleventh, is a dozen a line); the three bytes packed
 * into one number and a switch on it accept exactly the same twelve
 * case-sensitive names (test_syslog checks all of them, their neighbours
 * and a line that ends inside the name).
 */
static int
month_of(const char *p)
{
	switch (MON3(p[0], p[1], p[2])) {
	case MON3('J', 'a', 'n'): return 1;
	case MON3('F', 'e', 'b'): return 2;
	case MON3('M', 'a', 'r'): return 3;
	case MON3('A', 'p', 'r'): return 4;
	case MON3('M', 'a', 'y'): return 5;
	case MON3('J', 'u', 'n'): return 6;
	case MON3('J', 'u', 'l'): return 7;
	case MON3('A', 'u', 'g'): return 8;
	case MON3('S', 'e', 'p'): return 9;
	case MON3('O', 'c', 't'): return 10;
	case MON3('N', 'o', 'v'): return 11;
	case MON3('D', 'e', 'c'): return 12;
	default: return 0;
	}
}

/* RFC 3164 "Mmm dd hh:mm:ss", day padded with a space or a zero, or not
 * padded at all (some relays strip the double space). */
static int
rfc3164_time(const char *s, size_t len, size_t *i, struct mp_time *t)
{
	unsigned day = 0;
	size_t nd = 0;
	int mon;

	if (len - *i < 3)
		return -1;
	mon = month_of(s + *i);
	if (mon == 0)
		return -1;
	*i += 3;
	if (expect(s, len, i, ' ') == -1)
		return -1;
	if (*i < len && s[*i] == ' ')
		(*i)++;
	while (*i < len && is_digit(s[*i]) && nd < 2) {
		day = day * 10 + (unsigned)(s[*i] - '0');
		(*i)++;
		nd++;
	}
	if (nd == 0 || day < 1 || day > 31 || expect(s, len, i, ' ') == -1)
		return -1;
	if (clock_time(s, len, i, t) == -1)
		return -1;
	fraction(s, len, i, t);
	t->year = 0;
	t->mon = (uint8_t)mon;
	t->mday = (uint8_t)day;
	return 0;
}

/*
 * The first space in s[from, len), or NULL. The header's words (host,
 * RFC 5424's fields) end within a few bytes, where a memchr call pays its
 * set-up for little: with SSE2 one 16-byte step finds most of them (find.h),
 * and memchr takes the rest. (mp_memchr, whose first step takes 32 bytes,
 * measured slower here twice: docs/hacking.md, round 9.)
 */
static const char *
space_at(const char *s, size_t from, size_t len)
{
	if (from >= len)
		return NULL;
#ifdef MP_FIND_SSE2
	if (len - from >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + from));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));

		if (m != 0)
			return s + from + __builtin_ctz(m);
		from += 16;
	}
#endif
	return memchr(s + from, ' ', len - from);
}

/* A run of non-space bytes, at least one, followed by a space. */
static int
word(const char *s, size_t len, size_t *i, const char **w, size_t *wlen)
{
	const char *sp = space_at(s, *i, len);

	if (sp == NULL || sp == s + *i)
		return -1;
	*w = s + *i;
	*wlen = (size_t)(sp - *w);
	*i = (size_t)(sp - s) + 1;
	return 0;
}

/* Bytes of a priority written out as text ("mail.notice", "22"). */
static const unsigned char pri_text_byte[256] = {
	['.'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
	['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/*
 * "<mail.notice> " between the timestamp and the host: central servers'
 * rsyslog templates that keep the facility and severity in the file
 * ("%TIMESTAMP% <%syslogfacility-text%.%syslogseverity-text%> %HOSTNAME%
 * ..."), or the number (%PRI%) in its place. A host never starts with '<',
 * so the caller looks only when it sees one; "<facility.severity>" is at
 * most "<authpriv.warning>", 24 bytes is ample.
 */
static int
priority_text(const char *s, size_t len, size_t *i)
{
	size_t j = *i + 1, end = len - *i > 26 ? *i + 26 : len;

	while (j < end && pri_text_byte[(unsigned char)s[j]])
		j++;
	if (j == *i + 1 || j + 1 >= len || s[j] != '>' || s[j + 1] != ' ')
		return -1;
	*i = j + 2;
	return 0;
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* The high bit of each byte of v that is zero, and maybe of bytes above a
 * zero one (the borrow), never below: the lowest bit set is exact. */
static uint64_t
zero_bytes(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

/*
 * The first i in [from, len) where s[i] is a, b or c, or len. The tag and
 * the pid were scanned a byte at a time, a third of the header's cost
 * (callgrind); this reads eight bytes at a time while eight remain, and
 * finds the first one equal to a, b or c with the zero-byte test on each
 * XOR: the lowest flagged byte of the three masks together is the first
 * match, since each mask's lowest flag is exact. The load is a memcpy (no
 * alignment assumed) and never reaches past len; the bytes after the last
 * whole word go one at a time. Byte order matters for "lowest", so a
 * big-endian build takes the byte loop throughout. test_syslog checks
 * tags and pids ending at every offset of a word and at the line's end.
 */
static size_t
find3(const char *s, size_t from, size_t len, char a, char b, char c)
{
	size_t i = from;

#ifdef MP_FIND_SSE2
	/* Sixteen bytes a step while sixteen remain (find.h): a tag such as
	 * "postfix/smtpd" ends in the first step, where the words took two
	 * or three, and the word loop was still half of host_tag_msg's
	 * samples (perf annotate). */
	{
		const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vc = _mm_set1_epi8(c);

		for (; len - i >= 16; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
			    _mm_cmpeq_epi8(v, vc)));

			if (m != 0)
				return i + (size_t)__builtin_ctz(m);
		}
	}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ma = ONES * (unsigned char)a, mb = ONES * (unsigned char)b,
	    mc = ONES * (unsigned char)c;

	for (; len - i >= 8; i += 8) {
		uint64_t v, hit;

		memcpy(&v, s + i, 8);
		hit = zero_bytes(v ^ ma) | zero_bytes(v ^ mb) | zero_bytes(v ^ mc);
		if (hit != 0)
			return i + (size_t)__builtin_ctzll(hit) / 8;
	}
#endif
	while (i < len && s[i] != a && s[i] != b && s[i] != c)
		i++;
	return i;
}

#if defined(MP_FIND_SSE2) && !defined(MP_SYSLOG_REFERENCE)
#define MP_SYSLOG_FIXED 1
/*
 * The RFC 3164 stamp in the shape nearly every line has, "Mmm dd hh:mm:ss "
 * (the day padded with a space or a zero), checked in one 16-byte step:
 * the five separators and the seven digits are two compares of the same
 * load, where rfc3164_time and expect() took a branch or two per byte
 * (callgrind: 134 instructions a line in mp_syslog_parse, plus 60 in
 * clock_time). Fills t exactly as they would, and takes the space after
 * it too; returns -1 for any other shape (an unpadded day, a fraction, a
 * field out of range), which they then read as before.
 * tests/test_syslog_fixed.c compares the two on every byte value at every
 * place of a stamp. s must have 16 bytes.
 */
static int
rfc3164_fixed(const char *s, struct mp_time *t)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
	const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
	/* Bytes 0-9 after '0' are the digits: unsigned, min(d, 9) == d. */
	unsigned digit = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d,
	    _mm_set1_epi8(9)), d));
	unsigned sep = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setr_epi8(0, 0, 0,
	    ' ', ' ', 0, ' ', 0, 0, ':', 0, 0, ':', 0, 0, ' ')));
	int mon, day, h, m, sec;

	/* ' ' at 3, 6 and 15, ':' at 9 and 12; digits at 5, 7, 8, 10, 11, 13
	 * and 14; at 4 a digit or the day's padding space. */
	if ((sep & 0x9248) != 0x9248 || (digit & 0x6DA0) != 0x6DA0 ||
	    ((digit | sep) & 0x10) == 0)
		return -1;
	mon = month_of(s);
	day = (s[4] == ' ' ? 0 : (s[4] - '0') * 10) + (s[5] - '0');
	h = (s[7] - '0') * 10 + (s[8] - '0');
	m = (s[10] - '0') * 10 + (s[11] - '0');
	sec = (s[13] - '0') * 10 + (s[14] - '0');
	if (mon == 0 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	t->year = 0;
	t->mon = (uint8_t)mon;
	t->mday = (uint8_t)day;
	t->hour = (uint8_t)h;
	t->min = (uint8_t)m;
	t->sec = (uint8_t)sec;
	return 0;
}
#endif

/*
 * "host tag[pid]: msg" after a BSD-style timestamp. The tag ends at '[' or
 * ':'; a line whose third field is no tag (no colon before the first space)
 * keeps the host and hands everything after it over as the message.
 */
static int
host_tag_msg(const char *s, size_t len, size_t i, struct mp_syslog *out)
{
	size_t tag_start, tag_end, j;

	if (i < len && s[i] == '<' && priority_text(s, len, &i) == -1)
		return -1;
	if (word(s, len, &i, &out->host, &out->host_len) == -1)
		return -1;
	/* Local syslogds that omit the host: the "host" was the tag. */
	if (out->host[out->host_len - 1] == ':') {
		i = (size_t)(out->host - s);
		out->host = NULL;
		out->host_len = 0;
	}
	tag_start = i;
	/* The tag ends at '[' (the pid), ':' or ' '. */
	j = find3(s, i, len, '[', ':', ' ');
	tag_end = j;
	if (j < len && s[j] == '[') {
		j = find3(s, j, len, ']', ' ', ' ');
		if (j < len && s[j] == ']')
			j++;
		else
			j = len;
	}
	if (tag_end > tag_start && j < len && s[j] == ':') {
		out->tag = s + tag_start;
		out->tag_len = tag_end - tag_start;
		j++;
		if (j < len && s[j] == ' ')
			j++;
		out->msg = s + j;
		out->msg_len = len - j;
	} else {
		out->msg = s + tag_start;
		out->msg_len = len - tag_start;
	}
	return 0;
}

/* Skip an RFC 5424 STRUCTURED-DATA field: "-" or one or more "[...]"
 * elements, where a quoted parameter value may contain an escaped ']'. */
static int
structured_data(const char *s, size_t len, size_t *i)
{
	int quoted;

	if (*i < len && s[*i] == '-') {
		(*i)++;
		return 0;
	}
	if (*i >= len || s[*i] != '[')
		return -1;
	while (*i < len && s[*i] == '[') {
		quoted = 0;
		for ((*i)++; *i < len; (*i)++) {
			if (quoted && s[*i] == '\\' && *i + 1 < len)
				(*i)++;
			else if (s[*i] == '"')
				quoted = !quoted;
			else if (!quoted && s[*i] == ']')
				break;
		}
		if (*i >= len)
			return -1;
		(*i)++;
	}
	return 0;
}

/*
 * "<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD [MSG]", i just past
 * "<PRI>1 ". rsyslog puts the program name alone in APP-NAME ("postfix",
 * not "postfix/smtp": it ends programname at the '/'), so parsers must
 * recognise such lines by content.
 */
static int
rfc5424(const char *s, size_t len, size_t i, struct mp_syslog *out)
{
	const char *w;
	size_t wl;

	if (i < len && s[i] == '-') {
		i++;
		if (expect(s, len, &i, ' ') == -1)
			return -1;
	} else if (rfc3339_time(s, len, &i, &out->time) == -1 ||
	    expect(s, len, &i, ' ') == -1) {
		return -1;
	}
	if (word(s, len, &i, &w, &wl) == -1)
		return -1;
	if (!(wl == 1 && w[0] == '-')) {
		out->host = w;
		out->host_len = wl;
	}
	if (word(s, len, &i, &w, &wl) == -1)
		return -1;
	if (!(wl == 1 && w[0] == '-')) {
		out->tag = w;
		out->tag_len = wl;
	}
	if (word(s, len, &i, &w, &wl) == -1 || word(s, len, &i, &w, &wl) == -1)
		return -1;
	if (structured_data(s, len, &i) == -1)
		return -1;
	/*
	 * One space ends STRUCTURED-DATA, but a message that came in as a
	 * BSD line from /dev/log keeps its leading space in rsyslog's MSG,
	 * and RSYSLOG_SyslogProtocol23Format writes both: "- -  4F2A: to=".
	 * No mail log message starts with a space, so skip them all.
	 */
	while (i < len && s[i] == ' ')
		i++;
	if (len - i >= 3 && (unsigned char)s[i] == 0xef &&
	    (unsigned char)s[i + 1] == 0xbb && (unsigned char)s[i + 2] == 0xbf)
		i += 3;
	out->msg = s + i;
	out->msg_len = len - i;
	return 0;
}

/*
 * Exim's own mainlog: "YYYY-MM-DD HH:MM:SS[.mmm][ +hhmm] [[pid]] msg". The
 * optional parts come from log_selector +millisec, log_timezone and +pid.
 */
static int
exim(const char *s, size_t len, size_t i, struct mp_syslog *out)
{
	struct mp_time *t = &out->time;
	unsigned oh, om;
	size_t j;
	int sign;

	if (calendar_date(s, len, &i, t) == -1 || expect(s, len, &i, ' ') == -1 ||
	    clock_time(s, len, &i, t) == -1)
		return -1;
	fraction(s, len, &i, t);
	if (len - i >= 6 && s[i] == ' ' && (s[i + 1] == '+' || s[i + 1] == '-') &&
	    is_digit(s[i + 2])) {
		sign = s[i + 1] == '-' ? -1 : 1;
		i += 2;
		if (fixed_digits(s, len, &i, 2, &oh) == -1 ||
		    fixed_digits(s, len, &i, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		t->has_offset = 1;
		t->utc_offset = sign * (int32_t)(oh * 3600 + om * 60);
	}
	if (i < len && s[i] != ' ')
		return -1;
	if (i < len)
		i++;
	if (i < len && s[i] == '[') {
		for (j = i + 1; j < len && is_digit(s[j]); j++)
			;
		if (j > i + 1 && j + 1 < len && s[j] == ']' && s[j + 1] == ' ')
			i = j + 2;
	}
	out->msg = s + i;
	out->msg_len = len - i;
	return 0;
}

static void
reset(const char *line, size_t len, struct mp_syslog *out)
{
	memset(out, 0, sizeof *out);
	out->kind = MP_HDR_NONE;
	out->msg = line;
	out->msg_len = len;
}

/*
 * Parse the header at the start of line into *out; every pointer in *out
 * points into line. Never fails: a line whose header is not one of the
 * known forms (or is malformed half way) comes back as MP_HDR_NONE with
 * the whole line as the message, so a parser can still look at it.
 * Reads only line[0..len), whatever the bytes are.
 */
void
mp_syslog_parse(const char *line, size_t len, struct mp_syslog *out)
{
	size_t i = 0, j;
	int ok = -1;

	reset(line, len, out);
	if (line == NULL)
		return;
	if (len > 0 && line[0] == '<') {
		for (j = 1; j < len && j <= 4 && is_digit(line[j]); j++)
			;
		if (j > 1 && j < len && line[j] == '>') {
			i = j + 1;
			if (len - i >= 2 && line[i] == '1' && line[i + 1] == ' ') {
				out->kind = MP_HDR_RFC5424;
				if (rfc5424(line, len, i + 2, out) == 0)
					return;
				reset(line, len, out);
				return;
			}
		}
	}
	if (len - i >= 11 && is_digit(line[i]) && line[i + 4] == '-') {
		j = i;
		if (line[i + 10] == 'T') {
			out->kind = MP_HDR_RFC3339;
			if (rfc3339_time(line, len, &j, &out->time) == 0 &&
			    expect(line, len, &j, ' ') == 0)
				ok = host_tag_msg(line, len, j, out);
		} else if (line[i + 10] == ' ') {
			out->kind = MP_HDR_EXIM;
			ok = exim(line, len, j, out);
		}
	} else if (len - i >= 15) {
		j = i;
		out->kind = MP_HDR_RFC3164;
#ifdef MP_SYSLOG_FIXED
		if (len - i >= 16 && rfc3164_fixed(line + i, &out->time) == 0)
			ok = host_tag_msg(line, len, i + 16, out);
		else
#endif
		if (rfc3164_time(line, len, &j, &out->time) == 0 &&
		    expect(line, len, &j, ' ') == 0)
			ok = host_tag_msg(line, len, j, out);
	}
	if (ok == -1)
		reset(line, len, out);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): timegm() without the libc, exact for any year. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The zone's UTC offset at instant t, or INT64_MIN if there is none. */
static int64_t
offset_at(time_t t)
{
	struct tm tm;

	return localtime_r(&t, &tm) != NULL ? (int64_t)tm.tm_gmtoff : INT64_MIN;
}

/* A day and a half: more than any zone's change of offset (the largest,
 * a date line crossed, is 24 h), so no other instant showing a wall time
 * lies beyond it. */
#define ZONE_REACH (36 * 3600)

/*
 * The one instant the process's zone showed the local wall time `wall`
 * (its fields counted as if they were UTC), or -1 when that is not sure.
 *
 * Why not mktime: glibc's mktime calls tzset, which stats /etc/localtime
 * on every call while TZ is unset (most mail hosts), a system call for
 * each minute converted; localtime_r reads the zone loaded last without
 * one. The epoch cache calls tzset itself at most once a minute, so a
 * changed zone is still followed (epoch_cache.c).
 *
 * Why it is mktime's answer: wall - off is an answer exactly when the
 * offset at it is off. The offset at `wall` read as UTC is off by at most
 * one change, so a second try settles it. A wall time has another answer
 * only if the zone shows a second offset within ZONE_REACH of this one,
 * the hour a DST change repeats; the offset is checked at both ends of
 * that reach, and where it differs (an offset change within a day and a
 * half, a few days a year) mktime decides, as it always did. Two changes
 * within ZONE_REACH that undo each other would slip past that check; the
 * answer would still be an instant showing the wall time (the offset at
 * it is checked), only perhaps the other one of the two, which mktime
 * itself picks by what its previous call left behind. test_epoch_cache
 * compares this with mktime every 97 minutes from 2010 to 2027 and every
 * minute around each change, in eleven real zones chosen for odd shapes.
 */
static int64_t
local_epoch(int64_t wall)
{
	int64_t off = offset_at((time_t)wall);

	for (int tries = 0; tries < 2; tries++) {
		int64_t t, at;

		if (off == INT64_MIN)
			return -1;
		t = wall - off;
		if ((at = offset_at((time_t)t)) != off) {
			off = at;
			continue;
		}
		if (offset_at((time_t)(t - ZONE_REACH)) != off ||
		    offset_at((time_t)(t + ZONE_REACH)) != off)
			return -1;
		return t;
	}
	return -1;
}

static int64_t
to_epoch(const struct mp_time *t, int year)
{
	struct tm tm;
	time_t r;
	int64_t wall = days_from_civil(year, t->mon, t->mday) * 86400 +
	    t->hour * 3600 + t->min * 60 + t->sec;

	if (t->has_offset)
		return wall - t->utc_offset;
	if ((r = (time_t)local_epoch(wall)) != -1)
		return (int64_t)r;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->mday;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	/* Let the zone rules decide DST: the header does not say. */
	tm.tm_isdst = -1;
	r = mktime(&tm);
	return (int64_t)r;
}

/*
 * Seconds since the epoch for a header timestamp (sub-second part
 * dropped). A local time is read in the process's zone (TZ, and with it
 * --maillog.timezone; local_epoch, else mktime); a time with an offset
 * needs no zone at all.
 *
 * RFC 3164 has no year. Taking "this year" would put a 31 December line read
 * just after midnight on 1 January a year in the future, so instead each of
 * last, this and next year is tried and the one nearest to now wins.
 * Returns -1 if t holds no timestamp.
 */
int64_t
mp_time_to_epoch(const struct mp_time *t, time_t now)
{
	struct tm ref;
	int64_t best, cand, dbest, dcand;
	int y;

	if (t == NULL || t->mon < 1 || t->mon > 12 || t->mday < 1 ||
	    t->mday > 31)
		return -1;
	if (t->year != 0)
		return to_epoch(t, t->year);
	if (t->has_offset) {
		time_t shifted = now + t->utc_offset;
		gmtime_r(&shifted, &ref);
	} else {
		localtime_r(&now, &ref);
	}
	y = ref.tm_year + 1900;
	best = to_epoch(t, y);
	dbest = best > now ? best - now : now - best;
	/* Within MP_YEAR_SURE of now this year's date wins outright: last and
	 * next year's are a year (less a day, for any zone's change of rules)
	 * from it, so more than MP_YEAR_SURE from now: one conversion instead
	 * of three. */
	if (best != -1 && dbest < MP_YEAR_SURE)
		return best;
	for (int k = -1; k <= 1; k += 2) {
		cand = to_epoch(t, y + k);
		dcand = cand > now ? cand - now : now - cand;
		if (dcand < dbest) {
			best = cand;
			dbest = dcand;
		}
	}
	return best;
}
