/*
 * mta_names.c - the "mta" label value of every MTA id: the built-ins'
 * names, and the names custom parsers gave the ids they were assigned.
 *
 * Why a process-wide table, and the one writable global of parsers/: a
 * custom id must name the same MTA for the life of the process, so that
 * its counters carry on across a reload, and its name must stay readable
 * after the registry that gave it is freed (a custom parser removed by a
 * SIGHUP keeps its counted series), from the web thread, which holds no
 * registry and renders names while the main thread builds a new one. So
 * the id -> name table outlives every registry and is kept here, not in
 * one.
 *
 * The rule that makes it safe without a lock: only mp_registry_new_ex
 * writes (mp_mta_custom_id), and registries are built by one thread at a
 * time (daemon/main.c's, at start-up and on SIGHUP). A slot is written
 * once, then published by a release store of the count, and never changes
 * or goes away; readers on any thread load the count with acquire. A
 * process can name at most MP_CUSTOM_MAX distinct custom MTAs (a restart
 * frees them).
 */
#include "parsers/mta_names.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "parsers/mp.h"

static const char *const builtin_names[MP_MTA_BUILTIN_COUNT] = {
	[MP_MTA_POSTFIX] = "postfix",
	[MP_MTA_EXIM] = "exim",
	[MP_MTA_SENDMAIL] = "sendmail",
	[MP_MTA_OPENSMTPD] = "opensmtpd",
};

static char custom_names[MP_CUSTOM_MAX][MP_CUSTOM_NAME_MAX + 1];
static _Atomic int custom_count;

int
mp_mta_custom_id(const char *name, char *err, size_t errlen)
{
	int n = atomic_load_explicit(&custom_count, memory_order_relaxed);

	for (int i = 0; i < n; i++)
		if (strcmp(custom_names[i], name) == 0)
			return MP_MTA_BUILTIN_COUNT + i;
	if (n == MP_CUSTOM_MAX) {
		snprintf(err, errlen,
		    "mta \"%s\": no id left: this process has already counted %d different custom"
		    " mta names; restart the exporter to use new ones", name, MP_CUSTOM_MAX);
		return -1;
	}
	snprintf(custom_names[n], sizeof custom_names[n], "%s", name);
	atomic_store_explicit(&custom_count, n + 1, memory_order_release);
	return MP_MTA_BUILTIN_COUNT + n;
}

/*
 * The "mta" label value for an MTA id: a built-in's name, or the name a
 * custom id was given. An id nobody has is "unknown", so a label is never
 * NULL. Any thread (see the top).
 */
const char *
mp_mta_name(int mta)
{
	int i = mta - MP_MTA_BUILTIN_COUNT;

	if (mta >= 0 && mta < MP_MTA_BUILTIN_COUNT)
		return builtin_names[mta];
	if (i < 0 || i >= atomic_load_explicit(&custom_count, memory_order_acquire))
		return "unknown";
	return custom_names[i];
}
