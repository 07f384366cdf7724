/*
 * config.h - --config.file: custom parsers from a YAML file (README.md,
 * "Custom parsers"), read with libyaml and turned into a parser registry.
 *
 * All file I/O for configuration is here, so parsers/ stays pure: it gets
 * in-memory definitions (struct mp_custom_def) and never sees the file.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

#include "parsers/mp.h"
#include "parsers/reason.h"

enum config_status {
	CONFIG_OK = 0,
	CONFIG_BAD_FILE = -1,    /* the file: unreadable, bad YAML, a bad definition */
	CONFIG_BAD_FORMAT = -2,  /* --maillog.format names no parser */
};

/* Upper bound on --config.file's size: a config is a few KiB, and a
 * mistaken path (a log, a binary) should fail fast, not be parsed. */
#define CONFIG_MAX_BYTES (1024 * 1024)

/*
 * Build the parser registry for format with the custom parsers defined in
 * the file at path (NULL: built-in parsers only). Every definition is
 * checked and its patterns compiled, so CONFIG_OK means the whole file is
 * good. On failure *out is NULL and err holds one line; for a problem in
 * the file it starts "PATH:LINE: " (the line of the key or pattern at
 * fault; a pattern's error also gives the offset in the pattern). The
 * custom parsers' ids are given in names, as mp_registry_new_ex does (NULL:
 * a table of the registry's own). The caller frees *out with
 * mp_registry_free.
 */
enum config_status config_registry(const char *path, const char *format,
    struct mp_mta_names *names, struct mp_registry **out, char *err, size_t errlen);

/*
 * Build the failure-reason classifier from the file's top-level "reasons:"
 * list (README.md, "Metrics": each rule a reason from the closed set, a
 * pattern, and optional code and enhanced conditions), tried before the
 * built-in rules. path NULL, or a file without "reasons:", gives the
 * built-in rules alone. On failure *out is NULL and err holds one line,
 * "PATH:LINE: problem" for a problem in the file. The caller frees *out
 * with reason_set_free.
 */
enum config_status config_reasons(const char *path, struct reason_set **out,
    char *err, size_t errlen);

#endif
