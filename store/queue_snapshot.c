/*
 * queue_snapshot.c - names, histogram bounds and the publish/read board of
 * the queue sizes (see queue_snapshot.h).
 */
#include "store/queue_snapshot.h"

#include <string.h>

const double showq_size_bounds[SHOWQ_SIZE_BOUNDS] = {
	1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
};
const double showq_age_bounds[SHOWQ_AGE_BOUNDS] = {
	60, 300, 900, 3600, 14400, 43200, 86400, 172800, 432000,
};

static const char *const queue_names[SHOWQ_NQUEUES] = {
	"incoming", "active", "deferred", "hold", "maildrop", "corrupt",
};

const char *
showq_queue_name(enum showq_queue q)
{
	return (unsigned)q < SHOWQ_NQUEUES ? queue_names[q] : "unknown";
}

const char *
queue_method_name(enum queue_method m)
{
	switch (m) {
	case QUEUE_M_SHOWQ: return "showq";
	case QUEUE_M_SPOOL: return "spool";
	case QUEUE_M_EXIM_BPC: return "exim-bpc";
	default: return "unknown";
	}
}

const char *
queue_mta_name(enum queue_mta m)
{
	return m == QUEUE_MTA_POSTFIX ? "postfix" : "exim";
}

void
queue_snapshot_init(struct queue_snapshot *s)
{
	memset(s, 0, sizeof *s);
	for (int m = 0; m < QUEUE_NMTAS; m++) {
		s->duration[m] = -1;
		for (int k = 0; k < QUEUE_NMETHODS; k++)
			s->success[m][k] = -1;
	}
}

void
queue_board_init(struct queue_board *b)
{
	pthread_mutex_init(&b->mu, NULL);
	queue_snapshot_init(&b->pub);
}

void
queue_board_destroy(struct queue_board *b)
{
	pthread_mutex_destroy(&b->mu);
}

void
queue_board_publish(struct queue_board *b, const struct queue_snapshot *s)
{
	pthread_mutex_lock(&b->mu);
	b->pub = *s;
	pthread_mutex_unlock(&b->mu);
}

void
queue_board_read(struct queue_board *b, struct queue_snapshot *out)
{
	pthread_mutex_lock(&b->mu);
	*out = b->pub;
	pthread_mutex_unlock(&b->mu);
}
