/*
 * yamldoc.h - the libyaml mechanics shared by the two YAML files the
 * exporter reads, --config.file (daemon/config.c) and --web.config.file
 * (web/webconfig.c): loading one document, and "PATH:LINE: problem"
 * messages that point at the node at fault. What each file may contain
 * stays with its reader.
 */
#ifndef YAMLDOC_H
#define YAMLDOC_H

#include <stddef.h>
#include <yaml.h>

/* One file being read. The caller fills path, err and errlen (usually
 * with a designated initializer, the rest zero) and calls yamldoc_fini. */
struct yamldoc {
	const char *path;
	char *err;            /* where yamldoc_fail writes its one line */
	size_t errlen;
	yaml_document_t doc;
	int loaded;           /* doc holds a document to delete */
};

/* yamldoc_load flag: end a syntax error that has a context with the
 * context's line, "... while parsing a block mapping (line 2)". */
#define YAMLDOC_CONTEXT_LINE 1

/*
 * Write "PATH:LINE: message" (line 0: "PATH: message") into d->err and
 * return -1, so a reader can say "return yamldoc_fail(...)". The message
 * is cut at 400 bytes and the whole line at d->errlen.
 */
int yamldoc_fail(const struct yamldoc *d, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The 1-based line a node starts on. */
size_t yamldoc_line(const yaml_node_t *n);

/* What a node is, for messages: "a string", "a list", "a mapping". */
const char *yamldoc_kind(const yaml_node_t *n);

/* The node with libyaml's id in d's document. */
yaml_node_t *yamldoc_node(struct yamldoc *d, int id);

/*
 * Point *out at scalar node n's value, a NUL-terminated string owned by
 * d->doc. A "\0" escape can put a NUL inside a scalar, which would cut
 * the value short without a word, so that is refused like a node that is
 * not a scalar; key names the value in the message. Returns 0, or -1
 * with *out NULL and d->err set.
 */
int yamldoc_scalar(const struct yamldoc *d, const yaml_node_t *n, const char *key,
    const char **out);

/*
 * Read d->path, a regular file of at most max_bytes, into d->doc. Only
 * one YAML document is allowed: a second one would be ignored by the
 * user's reading and ours alike. An empty file loads as a document
 * without a root node; whether that is allowed is the caller's call.
 * what names the file in the size complaint ("not a <what>"); flags is 0
 * or YAMLDOC_CONTEXT_LINE. Returns 0, or -1 with d->err set.
 */
int yamldoc_load(struct yamldoc *d, long long max_bytes, const char *what, int flags);

/* Free the document, if one was loaded. */
void yamldoc_fini(struct yamldoc *d);

#endif
