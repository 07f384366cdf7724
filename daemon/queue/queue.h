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

enum queue_mta { QUEUE_MTA_POSTFIX, QUEUE_MTA_EXIM, QUEUE_NMTAS };
enum queue_method { QUEUE_M_SHOWQ, QUEUE_M_SPOOL, QUEUE_M_EXIM_BPC, QUEUE_NMETHODS };
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

/* What /metrics shows: plain values, copied whole. */
struct queue_snapshot {
	int have[QUEUE_NMTAS];              /* a collection succeeded at least once */
	double timestamp[QUEUE_NMTAS];      /* unix time of the last successful one */
	double duration[QUEUE_NMTAS];       /* seconds the last attempt took; < 0: none yet */
	signed char success[QUEUE_NMTAS][QUEUE_NMETHODS];   /* 1, 0, or -1: never tried */
	struct showq_stats postfix;         /* messages; histograms when postfix_hist */
	int postfix_hist;                   /* the last good Postfix numbers came from showq */
	uint64_t exim_messages;
	int exim_have_frozen;
	uint64_t exim_frozen;
};

void queue_opts_defaults(struct queue_opts *o);

/* "showq", "spool", "exim-bpc"; "postfix", "exim". */
const char *queue_method_name(enum queue_method m);
const char *queue_mta_name(enum queue_mta m);

/* A collector for o (copied; its strings must outlive it) with an empty
 * snapshot; nothing runs until queue_start(). NULL: out of memory. Free
 * with queue_free(). Two steps so the web thread can be given q before
 * the privilege drop and the collection starts only after it. */
struct queue *queue_new(const struct queue_opts *o);

/* Start the collector thread; with interval 0 or QUEUE_SEL_NONE there is
 * none and the snapshot stays empty. Returns 0, or -1 with err. */
int queue_start(struct queue *q, char *err, size_t errlen);

/* Stop the thread (an ongoing showq read or exim -bpc is abandoned at
 * once), wait for it and free q. NULL is a no-op. */
void queue_free(struct queue *q);

/* Copy the last published snapshot into out. Safe from any thread; it
 * never waits for a collection. */
void queue_read(struct queue *q, struct queue_snapshot *out);

/*
 * Run `binary -bpc` (no shell, empty stdin, stdout and stderr read back),
 * killing it after timeout_ms or when stop_fd becomes readable. Returns 0
 * with *count, or -1 with err (not startable, exit status, output other
 * than one number).
 */
int queue_exim_bpc(const char *binary, int timeout_ms, int stop_fd, uint64_t *count,
    char *err, size_t errlen);

#endif
