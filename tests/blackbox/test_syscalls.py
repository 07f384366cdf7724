"""No system call per line: `--once` and `report` over a central server's
log, traced by strace, with TZ unset as on most mail hosts.

glibc's mktime stats /etc/localtime on every call while TZ is unset, and
converting an RFC 3164 time took three mktime calls: three system calls
for each line whose time was converted. `report` converted every status's
time, and the store's one remembered minute missed on every other line of
a file where two hosts' clocks are 30 s apart (parsers/epoch_cache.h).
The log here is the Postfix golden lines re-stamped that way: mx1 and mx2
take turns, mx2 30 s ahead, ten lines a second. The count of stat calls
must stay far below the count of lines; `read` calls are counted too, so
a trace that saw nothing fails.
"""
import os
import re
import shutil
import subprocess
import tempfile

import harness

harness.require_binary()
cases = harness.Cases()
TESTS_DIR = os.environ.get("TESTS_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GOLDEN = os.path.join(TESTS_DIR, "data", "postfix", "golden.txt")
LINES = 6000
HEADER = re.compile(r"^[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \S+ (.*)$")


def golden_messages():
    out = []
    with open(GOLDEN, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            m = HEADER.match(line.rstrip("\n"))
            if m:
                out.append(m.group(1))
    assert len(out) > 100, "the golden file has %d log lines" % len(out)
    return out


def write_log(path):
    msgs = golden_messages()
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        for i in range(LINES):
            second = 12 * 3600 + i // 10 + (30 if i % 2 else 0)
            f.write("Nov 28 %02d:%02d:%02d mx%d %s\n" % (
                second // 3600, second // 60 % 60, second % 60, 1 + i % 2, msgs[i % len(msgs)]))


def traced(args, workdir):
    """Run the binary under strace -c with TZ unset: {syscall: calls}."""
    out = os.path.join(workdir, "strace.out")
    env = {k: v for k, v in os.environ.items() if k != "TZ"}
    # LeakSanitizer cannot run under ptrace; every other test checks leaks.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    p = subprocess.run(["strace", "-f", "-c", "-o", out, "-e", "trace=%%stat,read", harness.BIN] + args,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=300)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")[-2000:]
    calls = {}
    with open(out, encoding="utf-8") as f:
        for row in f:
            cols = row.split()
            # "% time seconds usecs/call calls [errors] syscall"
            if len(cols) >= 5 and cols[-1] != "total" and re.match(r"^\d+\.\d+$", cols[0]):
                calls[cols[-1]] = int(cols[3])
    return calls


def check(args):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        write_log(log)
        calls = traced([a.replace("LOG", log) for a in args], d)
    stats = sum(n for name, n in calls.items() if name != "read")
    print("     %s: %d stat calls, %d reads for %d lines" % (args[0], stats, calls.get("read", 0), LINES))
    assert calls.get("read", 0) > 0, "strace saw no read: %r" % calls
    # Before the cache of minutes: 4,021 for --once and 11,425 for report.
    assert stats < LINES // 40, "%d stat calls for %d lines: %r" % (stats, LINES, calls)


def test_once():
    check(["--once", "--maillog.path=LOG"])


def test_report():
    check(["report", "LOG"])


if shutil.which("strace") is None:
    print("strace is not installed (tests/run.sh installs it)")
    raise SystemExit(1)
if subprocess.run(["strace", "-o", os.devnull, "true"]).returncode != 0:
    print("skipped: strace cannot trace here (no ptrace)")
    raise SystemExit(harness.SKIP)
for t in (test_once, test_report):
    cases.run(t)
cases.finish()
