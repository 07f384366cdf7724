/*
 * systemd_dl.h - libsystemd, loaded when --journal or a NOTIFY_SOCKET
 * first needs it (util/dynload.h says why). Built only with libsystemd's
 * headers (HAVE_LIBSYSTEMD).
 *
 * Every call into it goes through a sym_NAME pointer declared here with
 * libsystemd's own prototype; journal_open() and the notifier call
 * systemd_dl_load() first.
 */
#ifndef SYSTEMD_DL_H
#define SYSTEMD_DL_H

#include <stddef.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/* The soname the build links against (checked by tests/test_dynload.c). */
#define SYSTEMD_DL_SONAME "libsystemd.so.0"

#define SYSTEMD_DL_SYMBOLS(X) \
	X(sd_journal_add_disjunction) \
	X(sd_journal_add_match) \
	X(sd_journal_close) \
	X(sd_journal_get_cursor) \
	X(sd_journal_get_data) \
	X(sd_journal_get_fd) \
	X(sd_journal_get_realtime_usec) \
	X(sd_journal_get_timeout) \
	X(sd_journal_next) \
	X(sd_journal_open) \
	X(sd_journal_open_directory) \
	X(sd_journal_previous) \
	X(sd_journal_process) \
	X(sd_journal_seek_cursor) \
	X(sd_journal_seek_head) \
	X(sd_journal_seek_tail) \
	X(sd_journal_set_data_threshold) \
	X(sd_journal_test_cursor) \
	X(sd_notify)

#define SYSTEMD_DL_DECLARE(name) extern __typeof__(name) *sym_##name;
SYSTEMD_DL_SYMBOLS(SYSTEMD_DL_DECLARE)
#undef SYSTEMD_DL_DECLARE

/*
 * Load libsystemd and fill every sym_ pointer, once per process (later
 * calls return the first call's answer, error included). Thread-safe.
 * Returns 0, or -1 with a one-line reason in err.
 */
int systemd_dl_load(char *err, size_t errlen);

#endif
