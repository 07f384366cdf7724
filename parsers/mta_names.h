/*
 * mta_names.h - the ids of custom MTA names (mta_names.c), internal to
 * parsers/: the registry gives ids; mp_mta_name (mp.h) reads them.
 */
#ifndef MP_MTA_NAMES_H
#define MP_MTA_NAMES_H

#include <stddef.h>

/* The longest custom mta name (custom.c checks names against it). */
#define MP_CUSTOM_NAME_MAX 32

/* The id of the custom mta name: the one it was given before in this
 * process, else the next free one, published for mp_mta_name. Only the
 * thread that builds registries may call it (see mta_names.c). Returns the
 * id, or -1 with a reason in err when MP_CUSTOM_MAX names have ids. */
int mp_mta_custom_id(const char *name, char *err, size_t errlen);

#endif
