#!/usr/bin/env python3
"""gen_reasons.py's literals, checked against the patterns themselves.

The built-in rules do not reach every branch of the generator (a literal
given by two alternatives with different \\b's, a \\b before a non-word
byte), so this runs required_literals and sufficient_literals on patterns
made for those shapes, and checks on random texts, with Python's re in
ASCII caseless mode (the same \\b and case folding as PCRE2 without UTF or
UCP) standing in for PCRE2:
  - a text the pattern matches holds a required literal, its \\b's holding;
  - a text holding a sure literal, its \\b's holding, is matched.
"""
import os
import random
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parsers"))
import gen_reasons as g  # noqa: E402

PATTERNS = [
    r"\bspam\b|unsolicited",
    r"\bfoo\b|foobar",
    r"\bfoo|foo\b",                 # the same string, different \b's
    r"\bfoo\b|\bfoo",
    r"foo\b|xfoo",
    r"\bfoo\b|foo",                 # one occurrence without any \b
    r"\b(?:black|block)[ -]?list\b|listed",
    r"\b-foo\b|bar",                # \b before a non-word byte: not bounded
    r"\bfoo-\b|bar",
    r"\bARC\b|\bDKIM\b|sender policy",
    r"(?:\bspam\b|junk mail)",
    r"\bspam\b",
    r"\bdisk full|\bqu?ota\b",
]
ALPHABET = "fobarxspmjunkdilctqwe-_ 9."


def holds(text, lit, fl):
    """Does lit occur in text (lower-cased), its \\b's holding?"""
    t = text.lower()
    word = set("abcdefghijklmnopqrstuvwxyz0123456789_")
    for i in range(len(t) - len(lit) + 1):
        if t[i:i + len(lit)] != lit:
            continue
        if fl & g.WB_BEFORE and i > 0 and t[i - 1] in word:
            continue
        if fl & g.WB_AFTER and i + len(lit) < len(t) and t[i + len(lit)] in word:
            continue
        return True
    return False


def texts(lits, rnd):
    words = [x for x, _ in lits] + ["foo", "spam", "arc", "list"]
    for _ in range(3000):
        parts = []
        for _ in range(rnd.randint(1, 3)):
            w = rnd.choice(words) if rnd.random() < 0.7 else "".join(
                rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 5)))
            if rnd.random() < 0.3:
                w = w.upper()
            parts.append(rnd.choice(["", "x", "_", "9", "-", " ", "."]) + w +
                         rnd.choice(["", "x", "_", "9", "-", " ", "."]))
        yield "".join(parts)


def main():
    rnd = random.Random(7)
    failures = 0
    bounded = 0
    for pat in PATTERNS:
        req = g.required_literals(pat)
        sure = g.sufficient_literals(pat)
        bounded += sum(1 for _, fl in req + sure if fl)
        rx = re.compile(pat, re.ASCII | re.IGNORECASE)
        if not req:
            print("FAIL %r: no literals" % pat)
            failures += 1
            continue
        for t in texts(req, rnd):
            m = rx.search(t) is not None
            if m and not any(holds(t, x, fl) for x, fl in req):
                print("FAIL %r matches %r, but no required literal %r holds" % (pat, t, req))
                failures += 1
                break
            if not m and any(holds(t, x, fl) for x, fl in sure):
                print("FAIL %r does not match %r, but a sure literal of %r holds" %
                      (pat, t, sure))
                failures += 1
                break
        print("%-45s required %s sure %s" % (pat, req, sure))
    # Each shape above must have been taken: at least the \b'd ones.
    if bounded < 10:
        print("FAIL: only %d bounded literals; the shapes were not reached" % bounded)
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
