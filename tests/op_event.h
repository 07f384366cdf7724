/*
 * op_event.h - an event holding one operational op (parsers/ops.h), for
 * the unit tests that feed the store, the exposition and the page.
 */
#ifndef TESTS_OP_EVENT_H
#define TESTS_OP_EVENT_H

#include <string.h>

#include "parsers/mp.h"

static inline struct mp_event
op_event(int mta, unsigned fam, unsigned l0, unsigned l1, unsigned l2, double v)
{
	struct mp_event ev;

	memset(&ev, 0, sizeof ev);
	ev.mta = mta;
	ev.nops = 1;
	ev.ops[0] = (struct mp_op){ .family = (uint8_t)fam,
		.label = { (uint8_t)l0, (uint8_t)l1, (uint8_t)l2 }, .value = v };
	return ev;
}

#endif
