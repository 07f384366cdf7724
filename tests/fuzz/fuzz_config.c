/*
 * fuzz_config.c - the --config.file parser (libyaml, definitions, PCRE2
 * patterns), through config_registry() as main.c calls it at start and on
 * SIGHUP.
 *
 * config_registry() takes a path, so each input is written to one memfd
 * and passed as /proc/self/fd/N. A file that is refused must say why in
 * one line and return no registry; a file that is accepted must give a
 * registry that parses lines (the input's own lines are fed to it, since
 * they are what its patterns were fuzzed from).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"
#include "parsers/mp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_config: %s: %s\n", what, err);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((fd = memfd_create("fuzz_config.yml", MFD_CLOEXEC)) < 0)
		die("memfd_create", "failed");
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_registry *reg = (struct mp_registry *)&fd;  /* must be reset */
	char err[512] = "";
	enum config_status st;

	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		die("writing the memfd", path);
	st = config_registry(path, "auto", NULL, &reg, err, sizeof err);
	if (st != CONFIG_OK) {
		if (reg != NULL)
			die("refused file but a registry returned", err);
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			die("refused file without a one-line reason", err);
		if (st != CONFIG_BAD_FILE)
			die("format auto reported as a bad format", err);
		return 0;
	}
	if (reg == NULL)
		die("accepted file but no registry", path);
	for (size_t i = 0; i < size;) {
		const char *line = (const char *)data + i;
		const char *nl = memchr(line, '\n', size - i);
		size_t n = nl ? (size_t)(nl - line) : size - i;
		struct mp_event ev;
		int r = mp_registry_parse(reg, line, n, &ev);
		if (r > 0 && ev.kind == MP_EVENT_STATUS && ev.cls != 2 && ev.cls != 4 && ev.cls != 5)
			die("custom parser status event without a class", path);
		i += n + 1;
	}
	mp_registry_free(reg);
	return 0;
}
