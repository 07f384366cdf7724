/*
 * queue_snapshot.h - the mail queue sizes as the views show them, and the
 * board they are published on.
 *
 * The queue collector (daemon/queue/) takes a snapshot every
 * --queue.interval seconds and publishes it on a queue_board; the web
 * thread copies the last one under a mutex held only for that copy, so a
 * scrape never waits for a slow or hung MTA, and shows when the numbers
 * were taken.
 */
#ifndef STORE_QUEUE_SNAPSHOT_H
#define STORE_QUEUE_SNAPSHOT_H

#include <pthread.h>
#include <stdint.h>

enum queue_mta { QUEUE_MTA_POSTFIX, QUEUE_MTA_EXIM, QUEUE_NMTAS };
enum queue_method { QUEUE_M_SHOWQ, QUEUE_M_SPOOL, QUEUE_M_EXIM_BPC, QUEUE_NMETHODS };

/* Postfix's queues (src/global/mail_queue.h). showq lists the first five;
 * corrupt is kept for a showq that one day reports it. */
enum showq_queue {
	SHOWQ_Q_INCOMING,
	SHOWQ_Q_ACTIVE,
	SHOWQ_Q_DEFERRED,
	SHOWQ_Q_HOLD,
	SHOWQ_Q_MAILDROP,
	SHOWQ_Q_CORRUPT,
	SHOWQ_NQUEUES,
};

/* Histogram bounds: sizes 1 KiB .. 64 MiB by fours, ages 1 min .. 5 days. */
#define SHOWQ_SIZE_BOUNDS 9
#define SHOWQ_AGE_BOUNDS 9
extern const double showq_size_bounds[SHOWQ_SIZE_BOUNDS];
extern const double showq_age_bounds[SHOWQ_AGE_BOUNDS];

/* Per-bucket (not cumulative) counts; the last bucket is +Inf. */
struct showq_hist {
	uint64_t buckets[10];
	double sum;
};

struct showq_stats {
	uint64_t messages[SHOWQ_NQUEUES];
	struct showq_hist size[SHOWQ_NQUEUES];   /* bytes, showq_size_bounds */
	struct showq_hist age[SHOWQ_NQUEUES];    /* seconds, showq_age_bounds */
};

/* "incoming", "active", ... */
const char *showq_queue_name(enum showq_queue q);

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

/* "showq", "spool", "exim-bpc"; "postfix", "exim". */
const char *queue_method_name(enum queue_method m);
const char *queue_mta_name(enum queue_mta m);

/* Never collected: no timestamps, durations < 0, every method untried. */
void queue_snapshot_init(struct queue_snapshot *s);

/* The last published snapshot. */
struct queue_board {
	pthread_mutex_t mu;
	struct queue_snapshot pub;   /* under mu */
};

/* An empty board (queue_snapshot_init); destroy with queue_board_destroy. */
void queue_board_init(struct queue_board *b);
void queue_board_destroy(struct queue_board *b);

/* Replace the published snapshot with s. */
void queue_board_publish(struct queue_board *b, const struct queue_snapshot *s);

/* Copy the last published snapshot into out. Safe from any thread; it
 * never waits for a collection. */
void queue_board_read(struct queue_board *b, struct queue_snapshot *out);

#endif
