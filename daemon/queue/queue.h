/*
 * queue.h - mail queue sizes, collected in the background.
 *
 * A collector thread asks each configured MTA how many messages it holds,
 * every --queue.interval seconds, and publishes a snapshot: Postfix through
 * its showq service (falling back to counting files in its queue
 * directories when the socket cannot be reached), Exim through `exim -bpc`
 * (falling back to counting *-H files in its spool) plus the spool's frozen
 * flags. The web thread copies the last snapshot under a mutex held only
 * for that copy: a scrape never waits for a slow or hung MTA, and shows
 * when the numbers were taken.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/queue/showq.h"
#include "store/queue_snapshot.h"

enum queue_select { QUEUE_SEL_AUTO, QUEUE_SEL_POSTFIX, QUEUE_SEL_EXIM, QUEUE_SEL_NONE };

#define QUEUE_DEFAULT_INTERVAL 30
#define QUEUE_DEFAULT_SHOWQ "/var/spool/postfix/public/showq"
#define QUEUE_DEFAULT_POSTFIX_DIR "/var/spool/postfix"
#define QUEUE_DEFAULT_EXIM_SPOOL "/var/spool/exim4"
/* How long one showq listing or one `exim -bpc` may take. */
#define QUEUE_TIMEOUT_MS 10000

struct queue_opts {
	unsigned interval_s;          /* 0: never collect */
	enum queue_select select;
	const char *showq_path;
	const char *postfix_dir;
	const char *exim_binary;      /* NULL: exim4, else exim, found in PATH */
	const char *exim_spool;       /* Exim's spool_directory; messages are in input/ */
	int timeout_ms;
};

void queue_opts_defaults(struct queue_opts *o);

/* A collector for o (copied; its strings must outlive it) that publishes
 * on board (initialised by the caller, which outlives the collector);
 * nothing runs until queue_start(). NULL: out of memory. Free with
 * queue_free(). Two steps so the web thread can be given the board before
 * the privilege drop and the collection starts only after it. */
struct queue *queue_new(const struct queue_opts *o, struct queue_board *board);

/* Start the collector thread; with interval 0 or QUEUE_SEL_NONE there is
 * none and the snapshot stays empty. Returns 0, or -1 with err. */
int queue_start(struct queue *q, char *err, size_t errlen);

/* Stop the thread (an ongoing showq read or exim -bpc is abandoned at
 * once), wait for it and free q. NULL is a no-op. */
void queue_free(struct queue *q);

/*
 * Run `binary -bpc` (no shell, empty stdin, stdout and stderr read back),
 * killing it after timeout_ms or when stop_fd becomes readable. Returns 0
 * with *count, or -1 with err (not startable, exit status, output other
 * than one number).
 */
int queue_exim_bpc(const char *binary, int timeout_ms, int stop_fd, uint64_t *count,
    char *err, size_t errlen);

#endif
