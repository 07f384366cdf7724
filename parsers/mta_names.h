/*
 * mta_names.h - giving custom mta names their ids in a struct mp_mta_names
 * (mp.h), internal to parsers/: the registry gives ids; mp_mta_name reads
 * them.
 */
#ifndef MP_MTA_NAMES_H
#define MP_MTA_NAMES_H

#include <stddef.h>

#include "parsers/mp.h"

/* The id of the custom mta name in names: the one it was given before,
 * else the next free one, published for mp_mta_name. Only the thread that
 * builds registries may call it (the rule at struct mp_mta_names). Returns
 * the id, or -1 with a reason in err when MP_CUSTOM_MAX names have ids. */
int mp_mta_custom_id(struct mp_mta_names *names, const char *name, char *err,
    size_t errlen);

#endif
