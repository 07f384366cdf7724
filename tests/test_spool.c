/*
 * test_spool.c - queue sizes from spool directories: Postfix's hashed
 * queue directories (only regular files count, depth bounded), Exim's -H
 * flag lines (a real-shaped -H file, frozen and not, an ACL variable whose
 * value looks like a flag), and Exim's split input directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/queue/spool.h"

static char root[64];

static void
path_of(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", root, rel);
}

static void
mkdirs(const char *rel)
{
	char p[512], *s;

	path_of(p, sizeof p, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	mkdir(p, 0700);
}

static void
put(const char *rel, const char *content, size_t len)
{
	char p[512];
	FILE *f;

	path_of(p, sizeof p, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(root, sizeof root, "/tmp/test_spool.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
test_postfix_hashed(void **state)
{
	char p[512], err[512];
	uint64_t n = 99;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	(void)state;
	/* deferred/<hash>/<id>, as with hash_queue_depth = 1 (and deeper) */
	mkdirs("pf/deferred/A");
	mkdirs("pf/deferred/B");
	mkdirs("pf/deferred/C/D/E/F");
	mkdirs("pf/deferred/C/D/E/F/G");
	put("pf/deferred/A/4VkQ2B0Hc2z9sWt", "x", 1);
	put("pf/deferred/A/4VkQ2B0Hc3z9sWv", "x", 1);
	put("pf/deferred/B/B1C2D3E4F5", "x", 1);
	put("pf/deferred/C/D/E/F/deep", "x", 1);         /* 4 levels down: counted */
	put("pf/deferred/C/D/E/F/G/too_deep", "x", 1);  /* past SPOOL_MAX_DEPTH */
	/* not messages: a FIFO, a symlink, a socket */
	path_of(p, sizeof p, "pf/deferred/fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	path_of(p, sizeof p, "pf/deferred/link");
	assert_int_equal(symlink("A/4VkQ2B0Hc2z9sWt", p), 0);
	path_of(sa.sun_path, sizeof sa.sun_path, "pf/deferred/sock");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);

	path_of(p, sizeof p, "pf");
	assert_int_equal(spool_count_files(p, "deferred", NULL, &n, err, sizeof err), 0);
	assert_int_equal(n, 4);

	mkdirs("pf/hold");
	assert_int_equal(spool_count_files(p, "hold", NULL, &n, err, sizeof err), 0);
	assert_int_equal(n, 0);

	assert_int_equal(spool_count_files(p, "active", NULL, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "/pf/active: No such file or directory"));

	_Atomic int stop = 1;
	assert_int_equal(spool_count_files(p, "deferred", &stop, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "abandoned at shutdown"));
}

/* Shaped after Exim's spec, "Format of spool files", and spool_out.c:
 * name line, login uid gid, <sender>, time and warning count, flag lines,
 * XX (no non-recipients tree), the recipient count and recipients, a
 * blank line, then the headers. */
#define H_HEAD \
	"1rJ4cX-000Bd9-2V-H\n" \
	"Debian-exim 101 101\n" \
	"<>\n" \
	"1700000000 0\n" \
	"-received_time_usec .421337\n" \
	"-ident Debian-exim\n" \
	"-received_protocol local\n" \
	"-aclc _dkim_sig 5\n" \
	"a\nb c\n" \
	"-aclm 0 14\n" \
	"\n-frozen 1\nXX\n\n" \
	"-body_linecount 12\n" \
	"-max_received_linelength 70\n"
#define H_TAIL \
	"-localerror\n" \
	"XX\n" \
	"1\n" \
	"sender@client.test\n" \
	"\n" \
	"155P Received: from Debian-exim by mail.e2e.test with local (Exim 4.96)\n" \
	"\tid 1rJ4cX-000Bd9-2V\n" \
	"\tfor sender@client.test; Tue, 14 Nov 2023 22:13:20 +0000\n"

static const char h_frozen[] = H_HEAD "-frozen 1700000100\n" H_TAIL;
static const char h_thawed[] = H_HEAD "-manual_thaw\n" H_TAIL;

static void
test_exim_h_frozen(void **state)
{
	(void)state;
	assert_int_equal(spool_exim_h_frozen(h_frozen, sizeof h_frozen - 1), 1);
	/* "-frozen" inside the -aclm value is data, not a flag */
	assert_int_equal(spool_exim_h_frozen(h_thawed, sizeof h_thawed - 1), 0);
	/* cut inside the flags: unknown, not "not frozen" */
	assert_int_equal(spool_exim_h_frozen(h_frozen, 120), -1);
	/* not a -H file */
	assert_int_equal(spool_exim_h_frozen("hello\nworld\n", 12), -1);
	/* an ACL length past the end of what was read */
	static const char bad_acl[] = "1rJ4cX-000Bd9-2V-H\nu 1 1\n<>\n1 0\n-aclc x 999999\nab\nXX\n";
	assert_int_equal(spool_exim_h_frozen(bad_acl, sizeof bad_acl - 1), -1);
}

static void
test_exim_spool(void **state)
{
	char p[512], err[512];
	uint64_t msgs = 0, frozen = 0;

	(void)state;
	mkdirs("exim/input/V");
	mkdirs("exim/input/W");
	put("exim/input/1rJ4cX-000Bd9-2V-H", h_thawed, sizeof h_thawed - 1);
	put("exim/input/1rJ4cX-000Bd9-2V-D", "1rJ4cX-000Bd9-2V-D\nbody\n", 25);
	put("exim/input/V/1rJ4cY-000BdA-3V-H", h_frozen, sizeof h_frozen - 1);
	put("exim/input/W/1rJ4cZ-000BdB-4W-H", h_frozen, sizeof h_frozen - 1);
	put("exim/input/W/1rJ4cZ-000BdB-4W-J", "journal", 7);
	put("exim/input/hdr.1234", "partial", 7);
	path_of(p, sizeof p, "exim/input/1rJ4cQ-000Bd1-2Q-H");
	assert_int_equal(mkfifo(p, 0600), 0);   /* not a regular file: ignored */

	path_of(p, sizeof p, "exim");
	assert_int_equal(spool_count_exim(p, NULL, &msgs, &frozen, err, sizeof err), 0);
	assert_int_equal(msgs, 3);
	assert_int_equal(frozen, 2);

	path_of(p, sizeof p, "no-such-spool");
	assert_int_equal(spool_count_exim(p, NULL, &msgs, &frozen, err, sizeof err), -1);
	assert_non_null(strstr(err, "no-such-spool/input"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postfix_hashed),
		cmocka_unit_test(test_exim_h_frozen),
		cmocka_unit_test(test_exim_spool),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
