/*
 * fuzz_syslog_listen.c - the --syslog.listen TCP framing (RFC 6587 octet
 * counting and LF, decided per message) and the message-to-line step.
 *
 * The first two bytes pick the message limit (16 to 271 bytes, so the
 * oversized paths are hit) and the chunking; the rest is the stream. The
 * stream is framed twice, whole and cut into pseudo-random pieces as TCP
 * may deliver it, and the two must yield the same messages and the same
 * oversized count: framing may never depend on where reads end. Every
 * message must be non-empty and within the limit, and its line (with the
 * local host name put in, as on unixgram:) must fit the bound the
 * listener's buffer is sized for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/input/syslog_frame.h"
#include "daemon/input/syslog_listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
	size_t max;
	size_t n, over;
	uint64_t hash;
};

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_syslog_listen: %s\n", what);
	abort();
}

static void
on_message(void *ctx, const char *msg, size_t len)
{
	static char out[271 + 256];
	struct acc *a = ctx;
	size_t outlen;
	int bad;

	if (len == 0 || len > a->max)
		die("a message empty or over the limit");
	a->n++;
	for (size_t i = 0; i < len; i++)
		a->hash = (a->hash ^ (unsigned char)msg[i]) * 1099511628211ULL;
	a->hash = (a->hash ^ 0x100) * 1099511628211ULL;
	for (int t = SYSLOG_UDP; t <= SYSLOG_UNIXGRAM; t++) {
		const char *line = sl_message_line((enum syslog_transport)t, "fuzzhost", msg, len,
		    out, &outlen, &bad);
		if (outlen > len + 256 || (line != msg && line != out))
			die("a line past its bound");
		if (line == out && t != SYSLOG_UNIXGRAM)
			die("a network message rewritten");
	}
}

static void
on_oversized(void *ctx, size_t len)
{
	struct acc *a = ctx;

	(void)len;
	a->over++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acc whole = { 0 }, cut = { 0 };
	struct sl_frame_sink sw = { on_message, on_oversized, &whole };
	struct sl_frame_sink sc = { on_message, on_oversized, &cut };
	struct sl_frame f;
	uint32_t x;
	size_t max;

	if (size < 2)
		return 0;
	max = 16 + data[0];
	x = data[1] * 2654435761u + 1;
	data += 2;
	size -= 2;
	whole.max = cut.max = max;
	if (sl_frame_init(&f, max) < 0)
		return 0;
	sl_frame_feed(&f, (const char *)data, size, &sw);
	sl_frame_end(&f, &sw);
	for (size_t pos = 0; pos < size;) {
		size_t k;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		k = 1 + x % 23;
		if (k > size - pos)
			k = size - pos;
		sl_frame_feed(&f, (const char *)data + pos, k, &sc);
		pos += k;
	}
	sl_frame_end(&f, &sc);
	sl_frame_fini(&f);
	if (whole.n != cut.n || whole.hash != cut.hash || whole.over != cut.over)
		die("the messages depend on where the reads end");
	return 0;
}
