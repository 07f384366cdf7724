/*
 * meaning.c - look codes up in the generated tables (see meaning.h). Both
 * tables are sorted by the generator, so a lookup is a binary search; the
 * renderer calls this once per code seen, never per line.
 */
#include "parsers/meaning.h"

#include <stdio.h>
#include <stdlib.h>

static int
reply_cmp(const void *key, const void *elem)
{
	int k = *(const int *)key;
	const struct meaning_reply *m = elem;

	return (k > m->code) - (k < m->code);
}

static int
enhanced_cmp(const void *key, const void *elem)
{
	const struct mp_enhanced *k = key;
	const struct meaning_enhanced *m = elem;

	if (k->subject != m->subject)
		return k->subject < m->subject ? -1 : 1;
	return (k->detail > m->detail) - (k->detail < m->detail);
}

static const char *
class_meaning(int cls)
{
	return cls >= 0 && cls < 10 && meaning_classes[cls] ? meaning_classes[cls] : "Unknown class";
}

const char *
meaning_reply(int code, char *buf, size_t len)
{
	const struct meaning_reply *m = bsearch(&code, meaning_replies, meaning_replies_count,
	    sizeof *meaning_replies, reply_cmp);

	if (m != NULL)
		return m->description;
	snprintf(buf, len, "Other %dxx: %s", code / 100, class_meaning(code / 100));
	return buf;
}

const char *
meaning_enhanced(const struct mp_enhanced *e, char *buf, size_t len)
{
	const struct meaning_enhanced *m = bsearch(e, meaning_enhanced_codes,
	    meaning_enhanced_count, sizeof *meaning_enhanced_codes, enhanced_cmp);

	if (m != NULL)
		return m->description;
	if (e->subject < MEANING_SUBJECTS && meaning_subjects[e->subject] != NULL)
		snprintf(buf, len, "Other %u.%u.x: %s; %s", (unsigned)e->cls,
		    (unsigned)e->subject, meaning_subjects[e->subject], class_meaning(e->cls));
	else
		snprintf(buf, len, "Other %u.x.x: %s", (unsigned)e->cls, class_meaning(e->cls));
	return buf;
}
