/*
 * topk.h - bounded label sets for values that come from the internet:
 * recipient and client domains (through a space-saving heavy-hitters
 * sketch) and syslog host names (first come, first served).
 *
 * A value that earns a label keeps it for the life of the process; the
 * memory is fixed at creation, whatever the input: a million distinct
 * domains cost no more than fifty. One writer (the tailer thread) calls
 * topk_observe; any thread may read the labels it has published.
 */
#ifndef TOPK_H
#define TOPK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Longest label value kept: a DNS name is at most 253 characters, an IPv6
 * address literal 45. */
#define TOPK_NAME_MAX 253

/* A domain needs at least this many events counted by the sketch before it
 * gets a label, so a name seen once or twice never takes a slot. */
#define TOPK_MIN_HITS 3

struct topk;

/*
 * Create a set that hands out at most `labels` labels (ids 1..labels).
 * With monitored > 0, a value gets a label only once the space-saving
 * sketch of `monitored` counters has counted it at least
 * max(TOPK_MIN_HITS, total / (2 * labels)) times, where total is every
 * observation so far: a domain must carry a fair share of the traffic.
 * With monitored == 0 every new value gets a label while any are left
 * (host names, which are few and trusted). labels == 0 makes a set that
 * never labels anything. Returns NULL on allocation failure; free with
 * topk_free (NULL is a no-op). Every byte is allocated here: topk_observe
 * never allocates.
 */
struct topk *topk_new(unsigned labels, unsigned monitored);
void topk_free(struct topk *t);

/* Count one occurrence of name (already normalised, 1..TOPK_NAME_MAX
 * bytes). Returns its label id (1..labels), possibly given just now, or 0
 * if it has none ("other"). Writer thread only. */
unsigned topk_observe(struct topk *t, const char *name, size_t len);

/* Append name as the next label id without the sketch (restoring a state
 * file). Returns the id, or 0 if it cannot be a label (empty, too long,
 * already one, or the table is full). Writer thread only. */
unsigned topk_restore(struct topk *t, const char *name, size_t len);

/* Number of labels handed out so far; ids 1..topk_count() are valid. Safe
 * from any thread (acquire: the names they stand for are complete). */
unsigned topk_count(const struct topk *t);

/* The name of label id (1..topk_count()), NUL-terminated, stable for the
 * life of the set. Safe from any thread. */
const char *topk_name(const struct topk *t, unsigned id);

/* Bytes allocated by topk_new for this set (fixed for its life). */
size_t topk_memory(const struct topk *t);

/*
 * Normalise a domain, host name or IP address from a log line into out
 * (at least TOPK_NAME_MAX + 1 bytes): strip one pair of brackets, an
 * "IPv6:" address-literal tag and one trailing dot, lower-case
 * it, and check its syntax: DNS labels of 1..63 letters, digits and
 * hyphens (not at either end of a label) whose last label is not all
 * digits, or an IP address that inet_pton accepts: dotted-quad IPv4 as
 * written, IPv6 in its canonical RFC 5952 text. Inbound client names and
 * addresses and outbound recipient domains all pass through here. Returns
 * the length written, or 0 if the value is not a well-formed name or
 * address (it then counts as "other").
 */
size_t topk_normalise(const char *in, size_t len, char *out);

#endif
