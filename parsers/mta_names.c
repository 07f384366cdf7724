/*
 * mta_names.c - the "mta" label value of every MTA id: the built-ins'
 * names, and the names custom parsers gave the ids a struct mp_mta_names
 * (mp.h: who owns one, and why it outlives registries) assigned them.
 *
 * No lock: one thread writes (the one that builds registries), appending
 * a slot and then publishing it with a release store of the count; readers
 * on any thread load the count with acquire, so they never see a slot
 * being written, and a slot never changes once published.
 */
#include "parsers/mta_names.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const char *const builtin_names[MP_MTA_BUILTIN_COUNT] = {
	[MP_MTA_POSTFIX] = "postfix",
	[MP_MTA_EXIM] = "exim",
	[MP_MTA_SENDMAIL] = "sendmail",
	[MP_MTA_OPENSMTPD] = "opensmtpd",
};

int
mp_mta_custom_id(struct mp_mta_names *names, const char *name, char *err, size_t errlen)
{
	int n = atomic_load_explicit(&names->count, memory_order_relaxed);

	for (int i = 0; i < n; i++)
		if (strcmp(names->name[i], name) == 0)
			return MP_MTA_BUILTIN_COUNT + i;
	if (n == MP_CUSTOM_MAX) {
		snprintf(err, errlen,
		    "mta \"%s\": no id left: this process has already counted %d different custom"
		    " mta names; restart the exporter to use new ones", name, MP_CUSTOM_MAX);
		return -1;
	}
	snprintf(names->name[n], sizeof names->name[n], "%s", name);
	atomic_store_explicit(&names->count, n + 1, memory_order_release);
	return MP_MTA_BUILTIN_COUNT + n;
}

/*
 * The "mta" label value for an MTA id: a built-in's name, or the name a
 * custom id has in names. An id nobody has is "unknown", so a label is
 * never NULL. Any thread (see the top).
 */
const char *
mp_mta_name(const struct mp_mta_names *names, int mta)
{
	int i = mta - MP_MTA_BUILTIN_COUNT;

	if (mta >= 0 && mta < MP_MTA_BUILTIN_COUNT)
		return builtin_names[mta];
	if (names == NULL || i < 0 ||
	    i >= atomic_load_explicit(&names->count, memory_order_acquire))
		return "unknown";
	return names->name[i];
}
