#!/usr/bin/env python3
"""Wrap plain mail-log lines in a container runtime's envelope, the way
containerd (CRI) and Docker's json-file driver write them (README.md here
cites both writers). Used by tests/blackbox/test_envelopes.py, and run by
hand to remake the golden files next to it:

    python3 make_envelopes.py mail.log

(mail.log here is a subset of examples/mail.log: real Postfix, Exim,
Sendmail and OpenSMTPD output; see README.md.)

Every choice is a pure function of the line's index, so the output is the
same on every run:
- every 7th line is cut into parts of 37 bytes (real runtimes cut at 16 KiB;
  a mail line is rarely that long, so the test cuts shorter to join real
  lines), and one line longer than 16 KiB is cut at exactly 16384 bytes
  when the caller adds one;
- every 11th line is written without its syslog header, as a program that
  logs to stdout "tag[pid]: msg" would, so the record's time stands in;
- every 5th line has a stderr record of the container's own chatter
  before it, and a cut line has one between its parts.
"""
import json
import re
import sys

CUT = 37
HEADER = re.compile(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ (?=\S+\[\d+\]: )")


def record_time(i):
    """containerd's RFC 3339 with nanoseconds, trailing zeros trimmed (Go's
    RFC3339Nano), as both writers do for UTC; from 18:29:04, 0.1 s apart,
    near the lines' own times."""
    ns = (4 + i // 10) * 10**9 + (i % 10) * 10**8 + 123457
    frac = ("%09d" % (ns % 10**9)).rstrip("0")
    sec = ns // 10**9
    return "2026-12-06T18:%02d:%02d.%sZ" % (29 + sec // 60, sec % 60, frac)


def docker_escape(s):
    """moby's ffjsonWriteJSONBytesAsString (daemon/logger/jsonfilelog/
    jsonlog/jsonlogbytes.go): '"' and '\\' backslashed, \\n and \\r by
    name, every other control character and <, >, & as \\u00XX, U+2028 and
    U+2029 as \\u2028/\\u2029, everything else as is."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or ch in "<>&":
            out.append("\\u%04x" % o)
        elif o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    return "".join(out)


def plan(lines):
    """(index, stream, text, final) records for the lines, in file order."""
    recs = []
    for i, line in enumerate(lines):
        if i % 11 == 5:
            m = HEADER.match(line)
            if m:
                line = line[m.end():]
        if i % 5 == 3:
            recs.append((i, "stderr", "entrypoint: still running (%d)" % i, True))
        if len(line) > 16384:
            size = 16384
        elif i % 7 == 2 and len(line) > CUT:
            size = CUT
        else:
            size = 0
        if size:
            parts = [line[k:k + size] for k in range(0, len(line), size)]
            for n, part in enumerate(parts):
                recs.append((i, "stdout", part, n == len(parts) - 1))
                if n == 0 and len(parts) > 1:
                    recs.append((i, "stderr", "warning: noise between parts", True))
        else:
            recs.append((i, "stdout", line, True))
    return recs


def cri(lines):
    return "".join("%s %s %s %s\n" % (record_time(i), stream, "F" if final else "P", text)
                   for i, stream, text, final in plan(lines))


def docker(lines):
    return "".join('{"log":"%s","stream":"%s","time":"%s"}\n'
                   % (docker_escape(text + ("\n" if final else "")), stream, record_time(i))
                   for i, stream, text, final in plan(lines))


def expected(lines):
    """What the decoder passes on: every line whole, the header-less ones
    with the record's time in front, and the stderr chatter."""
    # A stderr line is passed on when its record is read, a stdout line
    # when its last part is.
    out = []
    pending = ""
    for i, stream, text, final in plan(lines):
        if stream == "stderr":
            out.append(text)
            continue
        pending += text
        if final:
            if i % 11 == 5 and HEADER.match(lines[i]):
                pending = record_time(i) + " " + pending
            out.append(pending)
            pending = ""
    return out


def main():
    src = sys.argv[1]
    lines = [line for line in open(src, encoding="utf-8").read().splitlines() if line]
    with open("mail-cri.log", "w", encoding="utf-8") as f:
        f.write(cri(lines))
    with open("mail-docker.log", "w", encoding="utf-8") as f:
        f.write(docker(lines))
    with open("mail.expected", "w", encoding="utf-8") as f:
        f.write("\n".join(expected(lines)) + "\n")


if __name__ == "__main__":
    main()
