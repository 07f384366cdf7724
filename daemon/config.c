/*
 * config.c - read --config.file (YAML, with libyaml) into custom parser
 * definitions and build the registry from them.
 *
 *   parsers:
 *     - mta: haraka
 *       direction: outbound
 *       tag: haraka
 *       match: "[outbound] "
 *       patterns:
 *         - 'delivered .* response="[^"]*?(?<code>[245]\d\d)[ -](?<enhanced>...)?'
 *
 * libyaml's document API keeps every node's start mark, so each complaint
 * names the line of the key or pattern at fault. The file is checked in
 * two passes: its shape here (keys, types, direction words), then the
 * definitions themselves in parsers/ (names, tags, patterns and their
 * groups), whose mp_def_error says which definition and pattern to
 * point at.
 */
#include "daemon/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/yamldoc.h"

/* The line each part of one definition came from (1-based; 0: absent). */
struct def_lines {
	size_t parser, mta, direction, tag, match, patterns;
	size_t *pattern;   /* one per pattern, into struct config's pattern_lines */
};

struct config {
	struct yamldoc y;
	struct mp_custom_def *defs;
	struct def_lines *lines;
	size_t ndefs;
	const char **patterns;     /* every definition's patterns, in one array */
	size_t *pattern_lines;
};

static const char parser_keys[] = "mta, direction, tag, match, patterns";

/* Load the file; unlike a web config, an empty one is a mistake. */
static int
load(struct config *c)
{
	if (yamldoc_load(&c->y, CONFIG_MAX_BYTES, "config file", YAMLDOC_CONTEXT_LINE) < 0)
		return -1;
	if (yaml_document_get_root_node(&c->y.doc) == NULL)
		return yamldoc_fail(&c->y, 0, "empty file: want a top-level \"parsers:\" list");
	return 0;
}

/* One item of the parsers: list into c->defs[i] and c->lines[i]. */
static int
read_parser(struct config *c, size_t i, yaml_node_t *item, size_t *npat)
{
	struct mp_custom_def *d = &c->defs[i];
	struct def_lines *l = &c->lines[i];
	yaml_node_t *patterns = NULL;
	const char *dir = NULL;
	size_t dir_line = 0;

	l->parser = yamldoc_line(item);
	if (item->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&c->y, yamldoc_line(item),
		    "parser %zu: want a mapping with keys %s, not %s", i + 1, parser_keys,
		    yamldoc_kind(item));
	for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
	    pr < item->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yamldoc_node(&c->y, pr->key);
		yaml_node_t *v = yamldoc_node(&c->y, pr->value);
		const char *key = NULL;
		size_t *seen;

		if (yamldoc_scalar(&c->y, k, "key", &key) < 0)
			return -1;
		if (strcmp(key, "mta") == 0)
			seen = &l->mta;
		else if (strcmp(key, "direction") == 0)
			seen = &l->direction;
		else if (strcmp(key, "tag") == 0)
			seen = &l->tag;
		else if (strcmp(key, "match") == 0)
			seen = &l->match;
		else if (strcmp(key, "patterns") == 0)
			seen = &l->patterns;
		else
			return yamldoc_fail(&c->y, yamldoc_line(k),
			    "unknown key \"%.40s\" (want %s)", key, parser_keys);
		if (*seen != 0)
			return yamldoc_fail(&c->y, yamldoc_line(k),
			    "key \"%s\" given twice (first at line %zu)", key, *seen);
		*seen = yamldoc_line(k);
		if (seen == &l->mta && yamldoc_scalar(&c->y, v, key, &d->mta) < 0)
			return -1;
		if (seen == &l->tag && yamldoc_scalar(&c->y, v, key, &d->tag) < 0)
			return -1;
		if (seen == &l->match && yamldoc_scalar(&c->y, v, key, &d->match) < 0)
			return -1;
		if (seen == &l->direction) {
			if (yamldoc_scalar(&c->y, v, key, &dir) < 0)
				return -1;
			dir_line = yamldoc_line(v);
		}
		if (seen == &l->patterns)
			patterns = v;
	}
	if (l->mta == 0)
		return yamldoc_fail(&c->y, l->parser, "parser %zu: no mta (its name)", i + 1);
	if (dir == NULL)
		return yamldoc_fail(&c->y, l->parser,
		    "mta \"%s\": no direction (want inbound or outbound)", d->mta);
	if (strcmp(dir, "outbound") == 0)
		d->direction = MP_DIR_OUTBOUND;
	else if (strcmp(dir, "inbound") == 0)
		d->direction = MP_DIR_INBOUND;
	else
		return yamldoc_fail(&c->y, dir_line,
		    "mta \"%s\": direction \"%.40s\" is not inbound or outbound", d->mta, dir);
	if (patterns == NULL)
		return yamldoc_fail(&c->y, l->parser, "mta \"%s\": no patterns", d->mta);

	/* A single pattern may be written as a string instead of a list. */
	d->patterns = c->patterns + *npat;
	l->pattern = c->pattern_lines + *npat;
	if (patterns->type == YAML_SCALAR_NODE) {
		if (yamldoc_scalar(&c->y, patterns, "patterns", &c->patterns[*npat]) < 0)
			return -1;
		c->pattern_lines[(*npat)++] = yamldoc_line(patterns);
		d->npatterns = 1;
		return 0;
	}
	if (patterns->type != YAML_SEQUENCE_NODE)
		return yamldoc_fail(&c->y, yamldoc_line(patterns),
		    "mta \"%s\": patterns: want a list of strings, not %s", d->mta,
		    yamldoc_kind(patterns));
	for (yaml_node_item_t *it = patterns->data.sequence.items.start;
	    it < patterns->data.sequence.items.top; it++) {
		yaml_node_t *p = yamldoc_node(&c->y, *it);

		if (yamldoc_scalar(&c->y, p, "patterns", &c->patterns[*npat]) < 0)
			return -1;
		c->pattern_lines[(*npat)++] = yamldoc_line(p);
		d->npatterns++;
	}
	return 0;
}

/* Walk the document: a mapping whose only key is "parsers", a list. */
static int
read_defs(struct config *c)
{
	yaml_node_t *root = yaml_document_get_root_node(&c->y.doc);
	yaml_node_t *list = NULL;
	size_t total = 0, npat = 0;
	int have_reasons = 0;

	if (root->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&c->y, yamldoc_line(root),
		    "the top level must be a mapping with a \"parsers:\" list, not %s",
		    yamldoc_kind(root));
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	    pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yamldoc_node(&c->y, pr->key);
		const char *key = NULL;

		if (yamldoc_scalar(&c->y, k, "key", &key) < 0)
			return -1;
		if (strcmp(key, "reasons") == 0) {
			have_reasons = 1;   /* read by config_reasons */
			continue;
		}
		if (strcmp(key, "parsers") != 0)
			return yamldoc_fail(&c->y, yamldoc_line(k),
			    "unknown top-level key \"%.40s\" (want parsers or reasons)", key);
		if (list != NULL)
			return yamldoc_fail(&c->y, yamldoc_line(k), "key \"parsers\" given twice");
		list = yamldoc_node(&c->y, pr->value);
	}
	if (list == NULL && have_reasons)
		return 0;
	if (list == NULL)
		return yamldoc_fail(&c->y, yamldoc_line(root), "no \"parsers:\" list");
	/* "parsers:" with nothing after it is an empty plain scalar: no parsers. */
	if (list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0 &&
	    list->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		return 0;
	if (list->type != YAML_SEQUENCE_NODE)
		return yamldoc_fail(&c->y, yamldoc_line(list),
		    "parsers: want a list, not %s", yamldoc_kind(list));

	c->ndefs = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	    it < list->data.sequence.items.top; it++) {
		yaml_node_t *item = yamldoc_node(&c->y, *it);
		yaml_node_t *v;

		/* Count patterns (a list's items, or 1) to size one array. */
		total++;
		if (item->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
		    pr < item->data.mapping.pairs.top; pr++) {
			v = yamldoc_node(&c->y, pr->value);
			if (v->type == YAML_SEQUENCE_NODE)
				total += (size_t)(v->data.sequence.items.top -
				    v->data.sequence.items.start);
		}
	}
	c->defs = calloc(c->ndefs ? c->ndefs : 1, sizeof *c->defs);
	c->lines = calloc(c->ndefs ? c->ndefs : 1, sizeof *c->lines);
	c->patterns = calloc(total + 1, sizeof *c->patterns);
	c->pattern_lines = calloc(total + 1, sizeof *c->pattern_lines);
	if (c->defs == NULL || c->lines == NULL || c->patterns == NULL ||
	    c->pattern_lines == NULL)
		return yamldoc_fail(&c->y, 0, "out of memory");
	for (size_t i = 0; i < c->ndefs; i++)
		if (read_parser(c, i, yamldoc_node(&c->y,
		    list->data.sequence.items.start[i]), &npat) < 0)
			return -1;
	return 0;
}

/* The line an mp_registry_new_ex error is about, or 0. */
static size_t
error_line(const struct config *c, const struct mp_def_error *w)
{
	const struct def_lines *l;

	if (w->def < 0 || (size_t)w->def >= c->ndefs)
		return 0;
	l = &c->lines[w->def];
	switch (w->field) {
	case MP_DEF_MTA:
		return l->mta ? l->mta : l->parser;
	case MP_DEF_TAG:
		return l->tag;
	case MP_DEF_MATCH:
		return l->match;
	case MP_DEF_PATTERNS:
		if (w->pattern >= 0 && (size_t)w->pattern < c->defs[w->def].npatterns)
			return l->pattern[w->pattern];
		return l->patterns;
	default:
		return l->parser;
	}
}

static void
config_fini(struct config *c)
{
	yamldoc_fini(&c->y);
	free(c->defs);
	free(c->lines);
	free(c->patterns);
	free(c->pattern_lines);
}

/*
 * Build the registry for format from the built-in parsers and path's
 * custom ones; see config.h. Nothing read from the file outlives this
 * call: the registry copies what it keeps.
 */
enum config_status
config_registry(const char *path, const char *format, struct mp_mta_names *names,
    struct mp_registry **out, char *err, size_t errlen)
{
	struct config c = { .y = { .path = path, .err = err, .errlen = errlen } };
	struct mp_def_error where;
	enum config_status st = CONFIG_OK;
	char why[400];

	*out = NULL;
	if (path != NULL && (load(&c) < 0 || read_defs(&c) < 0)) {
		config_fini(&c);
		return CONFIG_BAD_FILE;
	}
	*out = mp_registry_new_ex(format, c.defs, c.ndefs, names, &where, why, sizeof why);
	if (*out == NULL) {
		if (where.field == MP_DEF_FORMAT) {
			snprintf(err, errlen, "%s", why);
			st = CONFIG_BAD_FORMAT;
		} else if (path == NULL) {
			snprintf(err, errlen, "%s", why);
			st = CONFIG_BAD_FILE;
		} else {
			yamldoc_fail(&c.y, error_line(&c, &where), "%s", why);
			st = CONFIG_BAD_FILE;
		}
	}
	config_fini(&c);
	return st;
}

/*
 * The "reasons:" section: the user's rules for maillog_smtp_reason_total,
 * tried before the built-in ones (parsers/reasons.rules).
 *
 *   reasons:
 *     - reason: blocklisted
 *       pattern: 'listed at bl\.example\.net'
 *       code: 5xx          # optional
 *       enhanced: x.7.1    # optional
 */
static const char reason_keys[] = "reason, pattern, code, enhanced";

/* The line each part of one rule came from (0: absent). */
struct reason_lines {
	size_t rule, reason, pattern, code, enhanced;
};

static int
read_reason(struct config *c, size_t i, yaml_node_t *item, struct reason_def *d,
    struct reason_lines *l)
{
	l->rule = yamldoc_line(item);
	if (item->type != YAML_MAPPING_NODE)
		return yamldoc_fail(&c->y, yamldoc_line(item),
		    "reason rule %zu: want a mapping with keys %s, not %s", i + 1, reason_keys,
		    yamldoc_kind(item));
	for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
	    pr < item->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yamldoc_node(&c->y, pr->key);
		yaml_node_t *v = yamldoc_node(&c->y, pr->value);
		const char *key = NULL, **value;
		size_t *seen;

		if (yamldoc_scalar(&c->y, k, "key", &key) < 0)
			return -1;
		if (strcmp(key, "reason") == 0) {
			seen = &l->reason;
			value = &d->reason;
		} else if (strcmp(key, "pattern") == 0) {
			seen = &l->pattern;
			value = &d->pattern;
		} else if (strcmp(key, "code") == 0) {
			seen = &l->code;
			value = &d->code;
		} else if (strcmp(key, "enhanced") == 0) {
			seen = &l->enhanced;
			value = &d->enhanced;
		} else {
			return yamldoc_fail(&c->y, yamldoc_line(k),
			    "reason rule %zu: unknown key \"%.40s\" (want %s)", i + 1, key,
			    reason_keys);
		}
		if (*seen != 0)
			return yamldoc_fail(&c->y, yamldoc_line(k),
			    "key \"%s\" given twice (first at line %zu)", key, *seen);
		*seen = yamldoc_line(v);
		if (yamldoc_scalar(&c->y, v, key, value) < 0)
			return -1;
	}
	if (l->reason == 0)
		return yamldoc_fail(&c->y, l->rule, "reason rule %zu: no reason", i + 1);
	return 0;
}

/*
 * Build the reason classifier from path's "reasons:" list and the built-in
 * rules; see config.h. The file is read again here rather than kept from
 * config_registry, so each caller gets a self-contained result.
 */
enum config_status
config_reasons(const char *path, struct reason_set **out, char *err, size_t errlen)
{
	struct config c = { .y = { .path = path, .err = err, .errlen = errlen } };
	yaml_node_t *root, *list = NULL;
	struct reason_def *defs = NULL;
	struct reason_lines *lines = NULL;
	struct reason_error where;
	size_t n = 0;
	char why[600];
	enum config_status st = CONFIG_BAD_FILE;

	*out = NULL;
	if (path != NULL) {
		if (load(&c) < 0)
			goto out;
		root = yaml_document_get_root_node(&c.y.doc);
		if (root->type != YAML_MAPPING_NODE) {
			yamldoc_fail(&c.y, yamldoc_line(root),
			    "the top level must be a mapping, not %s", yamldoc_kind(root));
			goto out;
		}
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		    pr < root->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yamldoc_node(&c.y, pr->key);
			if (k->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)k->data.scalar.value, "reasons") == 0) {
				if (list != NULL) {
					yamldoc_fail(&c.y, yamldoc_line(k), "key \"reasons\" given twice");
					goto out;
				}
				list = yamldoc_node(&c.y, pr->value);
			}
		}
	}
	/* "reasons:" with nothing after it: no rules of the user's. */
	if (list != NULL && !(list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0 &&
	    list->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
		if (list->type != YAML_SEQUENCE_NODE) {
			yamldoc_fail(&c.y, yamldoc_line(list), "reasons: want a list, not %s",
			    yamldoc_kind(list));
			goto out;
		}
		n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
		defs = calloc(n ? n : 1, sizeof *defs);
		lines = calloc(n ? n : 1, sizeof *lines);
		if (defs == NULL || lines == NULL) {
			yamldoc_fail(&c.y, 0, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (read_reason(&c, i, yamldoc_node(&c.y,
			    list->data.sequence.items.start[i]), &defs[i], &lines[i]) < 0)
				goto out;
	}
	if ((*out = reason_set_new(defs, n, &where, why, sizeof why)) == NULL) {
		size_t line = 0;

		if (path == NULL || where.rule >= n) {
			snprintf(err, errlen, "%s%s%s", path ? path : "", path ? ": " : "", why);
			goto out;
		}
		switch (where.field) {
		case REASON_FIELD_REASON: line = lines[where.rule].reason; break;
		case REASON_FIELD_PATTERN: line = lines[where.rule].pattern; break;
		case REASON_FIELD_CODE: line = lines[where.rule].code; break;
		case REASON_FIELD_ENHANCED: line = lines[where.rule].enhanced; break;
		default: line = lines[where.rule].rule; break;
		}
		yamldoc_fail(&c.y, line, "%s", why);
		goto out;
	}
	st = CONFIG_OK;
out:
	free(defs);
	free(lines);
	config_fini(&c);
	return st;
}
