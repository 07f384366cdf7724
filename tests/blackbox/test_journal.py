#!/usr/bin/env python3
"""--journal against real journal files.

CI has no journald (systemd is not PID 1), so the journal is written by
systemd-journal-remote, which turns journal export format read from a pipe
into journal files and appends as entries arrive. The daemon reads the
directory with sd_journal_open_directory (--journal.directory). Checked:
- it follows entries appended in bursts, through a rotation done the way
  journald does it (the active file renamed to NAME@....journal, a new
  active file started), and after the archived file is deleted (vacuum);
- the counts equal what --once counts over the same lines;
- with --state.file a restart resumes at the saved cursor: entries
  written while it was stopped are counted once, and no counter goes down;
- --journal.unit/--journal.identifier filter (a non-MTA entry is ignored);
- the journal flags without --journal are refused.
Skips (77) when the build has no libsystemd or systemd-journal-remote is
not installed (Debian package systemd-journal-remote).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SKIP, Cases, Daemon, code_for, free_port, parse_metrics,  # noqa: E402
                     postfix_line, require_binary, run)

require_binary()
REMOTE = "/lib/systemd/systemd-journal-remote"
if os.environ.get("HAVE_LIBSYSTEMD", "1") != "1":
    print("SKIP: built without libsystemd")
    sys.exit(SKIP)
if not os.access(REMOTE, os.X_OK):
    print("SKIP: no %s (apt-get install systemd-journal-remote)" % REMOTE)
    sys.exit(SKIP)

COUNTED = ("maillog_smtp_status_total", "maillog_smtp_reason_total",
           "maillog_outcomes_total", "maillog_domain_status_total",
           "maillog_lines_matched_total", "maillog_messages_received_total",
           "maillog_delivery_delay_seconds_bucket", "maillog_delivery_delay_seconds_count")
BOOT = "0123456789abcdef0123456789abcdef"


def counted(m):
    return {k: v for k, v in m.items() if k[0] in COUNTED}


class Writer:
    """systemd-journal-remote appending to DIR/remote.journal from a pipe."""
    mono = 1000

    def __init__(self, d):
        self.proc = subprocess.Popen([REMOTE, "--output=" + os.path.join(d, "remote.journal"),
                                      "-"], stdin=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)

    def entry(self, message, ident="postfix/smtp", unit="postfix@-.service"):
        # One boot: its monotonic clock must only move forward across the
        # writers, as it does for journald (entries of one boot are ordered
        # by it).
        Writer.mono += 1
        fields = ["__REALTIME_TIMESTAMP=%d" % int(time.time() * 1e6),
                  "__MONOTONIC_TIMESTAMP=%d" % Writer.mono, "_BOOT_ID=" + BOOT,
                  "_HOSTNAME=mx", "SYSLOG_IDENTIFIER=" + ident, "_PID=4242",
                  "_SYSTEMD_UNIT=" + unit, "MESSAGE=" + message]
        self.proc.stdin.write(("\n".join(fields) + "\n\n").encode())

    def flush(self):
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0


def message(n):
    # The part after "postfix/smtp[4242]: " of the harness's line.
    return postfix_line(n, *code_for(n)).split(": ", 1)[1]


def once_over(lines, tmp):
    path = os.path.join(tmp, "expected.log")
    with open(path, "w") as f:
        f.write("".join(lines))
    rc, out, err = run("--once", "--maillog.path=" + path)
    assert rc == 0, err
    return counted(parse_metrics(out))


def settle(d, want, seen, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        m = d.metrics()
        for k, v in m.items():
            if k[0] in COUNTED or k[0] == "maillog_lines_read_total":
                assert v >= seen.get(k, 0), "%s went down: %s -> %s" % (k, seen.get(k), v)
                seen[k] = v
        if counted(m) == want:
            return m
        if time.monotonic() > deadline:
            diff = [(k, counted(m).get(k), v) for k, v in want.items() if counted(m).get(k) != v]
            raise AssertionError("counts never settled: %d of %d series differ, e.g. %s"
                                 % (len(diff), len(want), diff[:3]))
        time.sleep(0.1)


def test_follow_rotate_vacuum_restart():
    tmp = tempfile.mkdtemp(prefix="mlx-journal-")
    jdir = os.path.join(tmp, "journal")
    os.mkdir(jdir)
    lines, seen, n = [], {}, 0
    args = ("--journal", "--journal.directory=" + jdir, "--maillog.start=beginning",
            "--state.file=" + os.path.join(tmp, "state"))

    def burst(w, count):
        nonlocal n
        for _ in range(count):
            w.entry(message(n))
            lines.append(postfix_line(n, *code_for(n)) + "\n")
            n += 1
        # Not a mail daemon: filtered out by the default matches.
        w.entry("status=sent (250 2.0.0 not mail)", ident="cron", unit="cron.service")
        w.flush()

    try:
        w = Writer(jdir)
        burst(w, 50)
        time.sleep(0.3)
        d = Daemon(*args)
        try:
            settle(d, once_over(lines, tmp), seen)
            for _ in range(5):                    # bursts while followed
                burst(w, 400)
            settle(d, once_over(lines, tmp), seen)
            # Rotation as journald does it: the active file is renamed
            # to an archived name and a new active file is started.
            w.close()
            archived = os.path.join(jdir, "remote@00000000000000000000000000000001-"
                                    "0000000000000001-0000000000000001.journal")
            os.rename(os.path.join(jdir, "remote.journal"), archived)
            w = Writer(jdir)
            burst(w, 300)
            settle(d, once_over(lines, tmp), seen)
            # Vacuum: the archived file goes away; following goes on.
            os.unlink(archived)
            burst(w, 200)
            settle(d, once_over(lines, tmp), seen)
            assert d.stop() == 0, d.stderr()
        finally:
            d.stop()
        # Written while stopped: counted once after the restart, from the
        # cursor in the state file.
        burst(w, 250)
        time.sleep(0.3)
        d = Daemon(*args)
        try:
            settle(d, once_over(lines, tmp), seen)
            assert "state file's cursor" in d.stderr(), d.stderr()
            m = d.metrics()
            read = m[("maillog_lines_read_total", frozenset({("path", "journal")}))]
            # Every MTA entry (the cron ones are filtered out by the journal).
            assert read == len(lines), (read, len(lines))
            assert d.stop() == 0
        finally:
            d.stop()
        w.close()
    finally:
        shutil.rmtree(tmp)


def test_restart_before_any_entry():
    """Started at the tail, stopped before any entry: the entries written
    while stopped are counted on restart (the start position was saved)."""
    tmp = tempfile.mkdtemp(prefix="mlx-journal-")
    jdir = os.path.join(tmp, "journal")
    os.mkdir(jdir)
    try:
        w = Writer(jdir)
        for i in range(20):
            w.entry(message(i))          # history: before our start, not counted
        w.flush()
        time.sleep(0.3)
        args = ("--journal", "--journal.directory=" + jdir,
                "--state.file=" + os.path.join(tmp, "state"))
        with Daemon(*args) as d:
            assert d.stop() == 0, d.stderr()
        lines = []
        for i in range(20, 70):
            w.entry(message(i))
            lines.append(postfix_line(i, *code_for(i)) + "\n")
        w.flush()
        time.sleep(0.3)
        with Daemon(*args) as d:
            settle(d, once_over(lines, tmp), {})
            assert d.stop() == 0
        w.close()
    finally:
        shutil.rmtree(tmp)


def test_filters():
    tmp = tempfile.mkdtemp(prefix="mlx-journal-")
    try:
        w = Writer(tmp)
        w.entry(message(1), ident="postfix/smtp", unit="postfix@-.service")
        w.entry(message(2), ident="postfix/smtp", unit="other.service")
        w.entry(message(3), ident="custom-mta", unit="other.service")
        w.flush()
        w.close()
        for extra, want in ((["--journal.unit=postfix@-.service"], 1),
                            (["--journal.identifier=custom-mta"], 1),
                            (["--journal.identifier=custom-mta",
                              "--journal.unit=postfix@-.service"], 2),
                            ([], 2)):
            with Daemon("--journal", "--journal.directory=" + tmp,
                        "--maillog.start=beginning", *extra) as d:
                m = d.wait_for(lambda m: m.get(("maillog_lines_read_total", frozenset(
                    {("path", "journal")}))) == want, timeout=5)
                got = m.get(("maillog_lines_read_total", frozenset({("path", "journal")})))
                assert got == want, (extra, got, want)
    finally:
        shutil.rmtree(tmp)


def test_flags():
    rc, _, err = run("--journal.unit=postfix.service")
    assert rc == 2 and "need --journal" in err, (rc, err)
    rc, _, err = run("--journal", "--once")
    assert rc == 2 and "not with --once" in err, (rc, err)
    rc, _, err = run("--journal", "--journal.directory=/nonexistent/dir",
                     "--web.listen-address=127.0.0.1:%d" % free_port())
    assert rc == 1 and "--journal: cannot open the journal in /nonexistent/dir" in err, (rc, err)


cases = Cases()
for fn in (test_flags, test_filters, test_restart_before_any_entry,
           test_follow_rotate_vacuum_restart):
    cases.run(fn)
cases.finish()
