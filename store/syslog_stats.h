/*
 * syslog_stats.h - what each --syslog.listen listener shows about itself
 * in /metrics.
 *
 * The listener (daemon/input/syslog_listen.c) writes these from the
 * event-loop thread only; the web thread reads them. They are atomics, so
 * the reader takes no lock. The label is the address as configured, so
 * the number of series is bounded by the configuration, never by what
 * the network sends.
 */
#ifndef STORE_SYSLOG_STATS_H
#define STORE_SYSLOG_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum syslog_transport {
	SYSLOG_UDP = 0,
	SYSLOG_TCP,
	SYSLOG_UNIXGRAM,
};

struct syslog_stats {
	const char *listener;             /* the --syslog.listen value, as given */
	enum syslog_transport transport;
	_Atomic uint64_t messages;        /* messages received (each handed to the parsers) */
	_Atomic uint64_t malformed;       /* of those, no <PRI> or no RFC 3164/5424 header */
	_Atomic uint64_t oversized;       /* longer than --syslog.max-message-size; skipped */
	_Atomic uint64_t dropped;         /* UDP: datagrams the kernel dropped (SO_RXQ_OVFL) */
	_Atomic uint64_t connections;     /* TCP: connections accepted */
	_Atomic uint64_t refused;         /* TCP: connections closed at once, over --syslog.max-connections */
	_Atomic uint64_t idle_closed;     /* TCP: connections closed after --syslog.idle-timeout */
	_Atomic uint64_t open;            /* TCP: connections open now */
};

#endif
