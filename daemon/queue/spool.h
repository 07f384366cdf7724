/*
 * spool.h - queue sizes read from the MTAs' spool directories, for when
 * asking the MTA is not possible: Postfix's queue directories (when its
 * showq socket cannot be reached) and Exim's input directory (frozen
 * messages always, and the message count when `exim -bpc` fails).
 *
 * Every walk is bounded in depth, ignores anything that is not a regular
 * file (sockets, FIFOs, symlinks), and checks *stop between entries so a
 * huge spool never holds up shutdown.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* Postfix hashes incoming, active, deferred and hold into subdirectories
 * hash_queue_depth deep (1 by default, at most a few in practice). */
#define SPOOL_MAX_DEPTH 4

/* The bytes of a -H file read to find its flags; Exim writes them in the
 * first few hundred bytes, after four fixed lines. */
#define SPOOL_EXIM_H_READ 65536

/*
 * Count the regular files under dir/queue (Postfix: one file per message),
 * SPOOL_MAX_DEPTH directories deep. Returns 0 with *count, or -1 with err
 * (dir/queue cannot be opened or read, or *stop was set). An entry that
 * vanishes during the walk (a message delivered meanwhile) is not an error.
 */
int spool_count_files(const char *dir, const char *queue, const _Atomic int *stop,
    uint64_t *count, char *err, size_t errlen);

/*
 * Does this start of an Exim -H file say the message is frozen? Exim's
 * spec, "Format of spool files": the file name, three fixed lines (login
 * uid gid; <sender>; time warning-count), then one line per flag, each
 * starting with '-', "-frozen <time>" among them; "-aclc"/"-aclm" lines
 * are followed by a value of the stated length that may hold anything,
 * newlines included, and is skipped. Returns 1 frozen, 0 not, -1 when buf
 * is not the start of a -H file (or its flags run past len).
 */
int spool_exim_h_frozen(const char *buf, size_t len);

/*
 * Count Exim's messages: the regular files named *-H in spool/input and in
 * its one-character subdirectories (split_spool_directory), and how many of
 * those say -frozen (at most SPOOL_EXIM_H_READ bytes read of each).
 * Returns 0, or -1 with err. A -H file that cannot be read or parsed counts
 * as a message but not as frozen.
 */
int spool_count_exim(const char *spool, const _Atomic int *stop, uint64_t *messages,
    uint64_t *frozen, char *err, size_t errlen);

#endif
