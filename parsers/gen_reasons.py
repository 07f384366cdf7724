#!/usr/bin/env python3
"""Turn parsers/reasons.rules into the C table parsers/reason.c compiles.

Run by meson (custom_target) at build time. Usage:
    gen_reasons.py reasons.rules reason.h OUTPUT.c

Every reason is checked against the closed set in reason.h, and every
condition's shape here, so a typo fails the build with FILE:LINE instead of
the daemon at start-up. (The patterns themselves are compiled by PCRE2 when
the daemon starts; tests/test_reasons.c compiles them all.)

It also derives, per pattern, a prefilter: a small set of lower-case
literals such that every text the pattern matches contains at least one of
them (see required_literals). reason.c finds all of them in one pass over
the reply and runs only the patterns whose literals occur, which is what
keeps a failed status from costing 48 regex calls. A literal taken from an
alternative between \b's carries them (WB_BEFORE, WB_AFTER) and counts
only where they hold; tests/test_gen_reasons.py checks the shapes the
rules do not reach.
"""
import re
import sys

try:
    import re._parser as sre_parse        # Python >= 3.11
    import re._constants as sre_c
except ImportError:                       # pragma: no cover (Python < 3.11)
    import sre_parse
    import sre_constants as sre_c


def c_string(s):
    out = []
    for ch in s:
        if ch in '\\"':
            out.append('\\' + ch)
        elif ord(ch) < 0x20 or ord(ch) >= 0x7f:
            raise ValueError("non-printable or non-ASCII character in %r" % s)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


PART = r"(?:x|\d{1,3}(?:-\d{1,3})?)"

# A prefilter literal shorter than this would occur in nearly every reply.
LIT_MIN = 3
# Exact sets (see Info) larger than this stop growing: "[ -]?" times a few
# alternations would otherwise multiply without bound.
EXACT_MAX = 64


class Info:
    """What one regex node tells about the texts it matches, all lower-case
    (the patterns run caselessly, ASCII only: non-UTF PCRE2).

    exact: the node matches exactly one of these strings ("" included when
    it can match empty), or None when it is not a small finite set.
    factors: when exact is None, a set F such that every match contains
    some member of F; None means nothing is known ("any text").
    """

    def __init__(self, exact=None, factors=None):
        self.exact = exact
        self.factors = factors

    def as_factors(self):
        if self.exact is not None:
            return None if "" in self.exact else set(self.exact)
        return self.factors


ANY = Info()
EMPTY = Info(exact={""})


def quality(f):
    """Shortest member's length (longer is more selective); 0 for none."""
    return min(len(x) for x in f) if f else 0


def better(a, b):
    if a is None or (b is not None and
                     (quality(b), -len(b)) > (quality(a), -len(a))):
        return b
    return a


def alternate(infos):
    if all(i.exact is not None for i in infos):
        u = set().union(*(i.exact for i in infos))
        if len(u) <= EXACT_MAX:
            return Info(exact=u)
    fs = [i.as_factors() for i in infos]
    if any(f is None for f in fs):
        return ANY
    return Info(factors=set().union(*fs))


def char_set(items):
    """The lower-cased characters an IN node matches, or None."""
    chars = set()
    for op, av in items:
        if op == sre_c.LITERAL:
            chars.add(chr(av).lower())
        elif op == sre_c.RANGE and av[1] - av[0] < 16:
            chars.update(chr(c).lower() for c in range(av[0], av[1] + 1))
        else:
            return None        # NEGATE, CATEGORY (\s, \d), a wide range
    return chars


def seq_info(items):
    """A concatenation. Consecutive exact nodes multiply into one run of
    exact strings ("try again later" is 15 one-letter nodes); the text a
    run matches is a substring of the whole match, so the best run's
    strings, or the best factors of a non-exact node, are factors of it."""
    best, run, exact = None, EMPTY, True
    for op, av in items:
        n = node_info(op, av)
        if n.exact is not None and len(run.exact) * len(n.exact) <= EXACT_MAX:
            run = Info(exact={x + y for x in run.exact for y in n.exact})
            continue
        exact = False
        best = better(best, run.as_factors())
        if n.exact is not None:
            run = n
        else:
            best = better(best, n.factors)
            run = EMPTY
    if exact:
        return run
    return Info(factors=better(best, run.as_factors()))


def node_info(op, av):
    if op == sre_c.LITERAL:
        return Info(exact={chr(av).lower()})
    if op == sre_c.IN:
        chars = char_set(av)
        return ANY if chars is None else Info(exact=chars)
    if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
        return EMPTY           # zero-width: \b, ^, $, lookarounds
    if op == sre_c.SUBPATTERN:
        return seq_info(av[-1])
    if op == sre_c.BRANCH:
        return alternate([seq_info(b) for b in av[1]])
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, hi, sub = av
        sub = seq_info(sub)
        if lo == 0:
            if hi == 1 and sub.exact is not None:
                return Info(exact=sub.exact | {""})
            return ANY
        if lo == 1 and hi == 1:
            return sub
        return Info(factors=sub.as_factors())
    return ANY                 # ., \s outside a class, anything unknown


# Word-boundary flags of a literal (reason.h, REASON_WB_*): it counts only
# where a \b before it, or after it, holds.
WB_BEFORE = 1
WB_AFTER = 2
WORD = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def top_branches(pattern):
    """The top-level alternatives of pattern, each a list of nodes: the
    pattern's own "|", or that of a plain group that is all of it."""
    items = list(sre_parse.parse(pattern))
    if len(items) == 1 and items[0][0] == sre_c.BRANCH:
        return items[0][1][1]
    if (len(items) == 1 and items[0][0] == sre_c.SUBPATTERN and
            not (len(items[0][1]) == 4 and (items[0][1][1] or items[0][1][2])) and
            len(items[0][1][-1]) == 1 and items[0][1][-1][0][0] == sre_c.BRANCH):
        return items[0][1][-1][0][1][1]
    return [items]


def bounded_strings(items):
    """An alternative "\bWORDS\b" (either \b optional) whose middle is pure
    (pure_seq): {string: flags}, where flags says which \b it has; the
    alternative matches exactly where one of the strings occurs with its
    \b holding. None for any other shape, and for a string whose first
    (last) byte is not a word byte under a leading (trailing) \b, where
    the \b would mean the opposite. PCRE2's \b without UCP: a word byte
    is [A-Za-z0-9_]."""
    items = list(items)
    flags = 0
    if items and items[0] == (sre_c.AT, sre_c.AT_BOUNDARY):
        flags |= WB_BEFORE
        items = items[1:]
    if items and items[-1] == (sre_c.AT, sre_c.AT_BOUNDARY):
        flags |= WB_AFTER
        items = items[:-1]
    strings = pure_seq(items) if items else None
    if not strings or "" in strings:
        return None
    for x in strings:
        if (flags & WB_BEFORE and x[0] not in WORD) or (flags & WB_AFTER and x[-1] not in WORD):
            return None
    return {x: flags for x in strings}


def required_literals(pattern):
    """A sorted list of (literal, flags), lower-case, one of which occurs,
    its \b flags holding, in every text pattern matches; [] when none can
    be derived (the rule then runs its pattern on every reply). A top-level
    alternative "\bspam\b" gives ("spam", WB_BEFORE | WB_AFTER): "spam"
    in "xspam" then wakes no pattern. Python's re parser reads the PCRE2
    subset reasons.rules uses the same way; test_reasons.c checks the
    result on every golden reply against every pattern."""
    found = {}
    for b in top_branches(pattern):
        bounded = bounded_strings(b)
        if bounded is None:
            f = seq_info(list(b)).as_factors()
            if f is None:
                return []
            bounded = {x: 0 for x in f}
        # The same string from two alternatives: only the \b both give
        # holds wherever it occurs in a match.
        for x, fl in bounded.items():
            found[x] = found[x] & fl if x in found else fl
    if quality(found) < LIT_MIN:
        return []
    # "limit" makes " limit" and "-limit" redundant, unless its \b is
    # needed: "arc" inside "search" is no \bARC\b.
    return sorted((x, fl) for x, fl in found.items()
                  if not any(y != x and y in x and found[y] == 0 for y in found))


def pure_seq(items):
    """The set of strings a concatenation matches when it is nothing but
    literals, small character classes, groups of them and "?" (no
    assertion, no repeat, no inline flag), all lower-case; else None."""
    run = {""}
    for op, av in items:
        n = pure_node(op, av)
        if n is None:
            return None
        run = {x + y for x in run for y in n}
        if len(run) > EXACT_MAX:
            return None
    return run


def pure_node(op, av):
    if op == sre_c.LITERAL:
        return {chr(av).lower()}
    if op == sre_c.IN:
        return char_set(av)
    if op == sre_c.SUBPATTERN:
        if len(av) == 4 and (av[1] or av[2]):
            return None        # (?i) and the like change what matches
        return pure_seq(av[-1])
    if op == sre_c.BRANCH:
        sets = [pure_seq(b) for b in av[1]]
        return None if any(x is None for x in sets) else set().union(*sets)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, hi, sub = av
        sub = pure_seq(sub)
        if sub is None or not (lo in (0, 1) and hi == 1):
            return None
        return sub | {""} if lo == 0 else sub
    return None                # \b, ^, $, ., \s, lookarounds, repeats: context


def sufficient_literals(pattern):
    """A sorted list of (literal, flags), lower-case, any one of which,
    occurring in a text with its \b flags holding, makes pattern match it:
    the strings of every top-level alternative that is pure (see
    pure_seq), or pure between \b's (see bounded_strings). The pattern
    runs caselessly and unanchored, so such an alternative matches
    wherever one of its strings starts and its \b's hold. Literals shorter
    than LIT_MIN are left out (reason.c does not scan for them), so an
    empty list means none."""
    out = {}
    for b in top_branches(pattern):
        bounded = bounded_strings(b)
        if bounded is None:
            continue
        for x, fl in bounded.items():
            if len(x) < LIT_MIN:
                continue
            # Two alternatives give it: either one's \b's are enough, so
            # the fewer; where neither set holds the other, both.
            if x in out and out[x] & fl not in (out[x], fl):
                fl |= out[x]
            elif x in out:
                fl &= out[x]
            out[x] = fl
    return sorted(out.items())


def c_literals(lits):
    """The table's literal list and its \b flags, or NULLs for none."""
    if not lits:
        return "NULL", "NULL"
    words = "(const char *const[]){ %s, NULL }" % ", ".join(c_string(x) for x, _ in lits)
    if not any(fl for _, fl in lits):
        return words, "NULL"
    return words, "(const unsigned char[]){ %s }" % ", ".join(str(fl) for _, fl in lits)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen_reasons.py reasons.rules reason.h OUTPUT.c")
    rules_path, header_path, out_path = sys.argv[1:]
    with open(header_path, encoding="utf-8") as f:
        enum = re.search(r"enum reason \{(.*?)\};", f.read(), re.S)
    reasons = set(re.findall(r"REASON_([A-Z_]+)", enum.group(1))) - {"COUNT"}
    rows = []
    with open(rules_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            try:
                cols = line.split("\t")
                if len(cols) != 4:
                    raise ValueError("expected 4 tab-separated columns, got %d" % len(cols))
                reason, code, enh, pattern = cols
                if reason.upper() not in reasons or reason != reason.lower():
                    raise ValueError("reason %r is not in reason.h's closed set" % reason)
                if code != "-" and not re.fullmatch(r"[45x][0-9x][0-9x]", code):
                    raise ValueError("code %r: want 3 digits or x, starting 4, 5 or x" % code)
                if enh != "-" and not re.fullmatch(r"[45x]\.%s\.%s" % (PART, PART), enh):
                    raise ValueError("enhanced %r: want CLASS.SUBJECT.DETAIL" % enh)
                if code == "-" and enh == "-" and pattern == "-":
                    raise ValueError("a rule needs at least one condition")
                lits = required_literals(pattern) if pattern != "-" else []
                sure = sufficient_literals(pattern) if lits else []
                rows.append("\t{ REASON_%s, %s, %s, %s, %d, %s, %s, %s, %s },\n" % ((
                    reason.upper(),
                    "NULL" if code == "-" else c_string(code),
                    "NULL" if enh == "-" else c_string(enh),
                    "NULL" if pattern == "-" else c_string(pattern), n) +
                    tuple(x for pair in zip(c_literals(lits), c_literals(sure)) for x in pair)))
            except ValueError as e:
                sys.exit("%s:%d: %s" % (rules_path, n, e))
    if not rows:
        sys.exit("%s: no rules" % rules_path)
    with open(out_path, "w", encoding="utf-8") as out:
        out.write("/* Generated from parsers/reasons.rules by gen_reasons.py. Do not edit. */\n")
        out.write('#include "parsers/reason.h"\n\n')
        out.write("const struct reason_builtin reason_builtins[] = {\n")
        out.writelines(rows)
        out.write("};\n")
        out.write("const size_t reason_builtins_count = %d;\n" % len(rows))


if __name__ == "__main__":
    main()
