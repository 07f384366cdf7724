/*
 * yamldoc.c - load one YAML document with libyaml's document API, which
 * keeps every node's start mark, and word complaints as "PATH:LINE: ..."
 * for the readers of --config.file and --web.config.file.
 */
#include "util/yamldoc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Format the message, then prefix it with the file and line. The message
 * goes through a buffer of its own so that a long one still leaves the
 * "PATH:LINE: " prefix intact.
 */
int
yamldoc_fail(const struct yamldoc *d, size_t line, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	/* Messages quote the user's values, and a YAML string can hold "\n":
	 * keep the message on one line (fuzz_config found a two-line one). */
	for (char *c = what; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	if (line > 0)
		snprintf(d->err, d->errlen, "%s:%zu: %s", d->path, line, what);
	else
		snprintf(d->err, d->errlen, "%s: %s", d->path, what);
	return -1;
}

/* libyaml counts lines from 0; editors and messages from 1. */
size_t
yamldoc_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

/* A node's type in the words a "want X, not Y" message uses. */
const char *
yamldoc_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a string";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* Look up a node by the id a mapping pair or a sequence item holds. */
yaml_node_t *
yamldoc_node(struct yamldoc *d, int id)
{
	return yaml_document_get_node(&d->doc, id);
}

/* A scalar as a C string; see yamldoc.h for why a NUL inside is refused. */
int
yamldoc_scalar(const struct yamldoc *d, const yaml_node_t *n, const char *key,
    const char **out)
{
	*out = NULL;
	if (n->type != YAML_SCALAR_NODE)
		return yamldoc_fail(d, yamldoc_line(n), "%s: want a string, not %s", key,
		    yamldoc_kind(n));
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return yamldoc_fail(d, yamldoc_line(n), "%s: holds a NUL byte", key);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/*
 * Open, check, and parse d->path; see yamldoc.h. The size is checked
 * before parsing so that a mistaken path (a log, a binary) fails fast.
 */
int
yamldoc_load(struct yamldoc *d, long long max_bytes, const char *what, int flags)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	struct stat st;
	FILE *fp;
	int rc = 0;

	if ((fp = fopen(d->path, "rb")) == NULL)
		return yamldoc_fail(d, 0, "cannot open: %s", strerror(errno));
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(fp);
		return yamldoc_fail(d, 0, "not a regular file");
	}
	if (st.st_size > max_bytes) {
		fclose(fp);
		return yamldoc_fail(d, 0, "%lld bytes: larger than %lld, not a %s",
		    (long long)st.st_size, max_bytes, what);
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		return yamldoc_fail(d, 0, "out of memory");
	}
	yaml_parser_set_input_file(&parser, fp);
	if (!yaml_parser_load(&parser, &d->doc))
		goto syntax;
	d->loaded = 1;
	/* No root: the stream ended, so there is no second document either. */
	if (yaml_document_get_root_node(&d->doc) == NULL)
		goto out;
	if (!yaml_parser_load(&parser, &extra))
		goto syntax;
	if (yaml_document_get_root_node(&extra) != NULL)
		rc = yamldoc_fail(d, yamldoc_line(yaml_document_get_root_node(&extra)),
		    "a second YAML document; put everything in one");
	yaml_document_delete(&extra);
	goto out;
syntax:
	if (parser.error == YAML_MEMORY_ERROR)
		rc = yamldoc_fail(d, 0, "out of memory");
	else if (parser.error == YAML_READER_ERROR)
		rc = yamldoc_fail(d, 0, "cannot read: %s",
		    parser.problem ? parser.problem : "read error");
	else if (parser.context != NULL && (flags & YAMLDOC_CONTEXT_LINE))
		rc = yamldoc_fail(d, parser.problem_mark.line + 1,
		    "YAML syntax: %s %s (line %zu)",
		    parser.problem ? parser.problem : "error", parser.context,
		    parser.context_mark.line + 1);
	else if (parser.context != NULL)
		rc = yamldoc_fail(d, parser.problem_mark.line + 1, "YAML syntax: %s %s",
		    parser.problem ? parser.problem : "error", parser.context);
	else
		rc = yamldoc_fail(d, parser.problem_mark.line + 1, "YAML syntax: %s",
		    parser.problem ? parser.problem : "error");
out:
	yaml_parser_delete(&parser);
	fclose(fp);
	return rc;
}

/* Safe on a yamldoc that never loaded, or failed to. */
void
yamldoc_fini(struct yamldoc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = 0;
}
