"""`promtool check metrics` (Debian's prometheus package) on real output:
the --once exposition and a live HTTP scrape, for a log whose path and
lines carry bytes that need escaping or UTF-8 repair. promtool must print
nothing and exit 0."""
import os
import shutil
import subprocess
import sys
import tempfile

import harness
from harness import postfix_line

harness.require_binary()


class Daemon(harness.Daemon):
    """harness.Daemon that also fails the case if the daemon did not exit
    0 on SIGTERM or a sanitizer reported anything (ASan/UBSan builds)."""

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None:
            err = self.stderr()
            assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
            assert rc == 0, "daemon exited %s: %s" % (rc, err[-1000:])
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
if not os.access(PROMTOOL, os.X_OK):
    print("SKIP: promtool not found (Debian package prometheus)")
    sys.exit(harness.SKIP)

cases = harness.Cases()

# A file name with a double quote, a backslash, a newline, a Latin-1 byte,
# an overlong '/' and a truncated sequence, next to valid UTF-8.
WEIRD_NAME = b'mail "q" \\x\n\xe9t\xc3\xa9 \xc0\xaf \xe2\x82.log'


def weird_lines():
    lines = [postfix_line(n, *harness.code_for(n)).encode() for n in range(50)]
    lines += [
        # A reject with bytes that are not UTF-8 in every free-text field.
        b"Nov 28 14:10:02 mx postfix/smtpd[77]: NOQUEUE: reject: RCPT from "
        b"unknown[198.51.100.9]: 554 5.7.1 <sp\xffam@ex\"ample\\.com>: Relay access "
        b"denied; from=<\xc0\xaf@x> to=<a\"b@example.com> proto=ESMTP helo=<\xe2\x82>",
        # A status marker with nothing readable after it (unmatched).
        b"Nov 28 14:10:03 mx postfix/smtp[78]: 4A0FFFF: to=<x@y>, status=\xff\xfe\"\\",
        # Syslog's escaped control characters and raw ones.
        b"Nov 28 14:10:04 mx postfix/smtp[79]: #012#011 status=sent \x01\x02\x7f",
        b"\xef\xbb\xbf\xff\xff\xff",
    ]
    return b"\n".join(lines) + b"\n"


def promtool_check(text_bytes):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text_bytes,
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0 and out == "", "promtool exit %d: %s" % (p.returncode, out)


def check_exposition(body, path_bytes):
    text = body.decode("utf-8")  # strict: the exposition must be valid UTF-8
    # The path label is escaped and repaired, not dropped.
    want = (path_bytes.decode("utf-8", "replace")
            .replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
    assert 'maillog_lines_read_total{path="%s"}' % want in text, \
        "escaped path not found; wanted %r" % want


def test_once_output():
    with tempfile.TemporaryDirectory() as d:
        path = os.fsencode(d) + b"/" + WEIRD_NAME
        with open(path, "wb") as f:
            f.write(weird_lines())
        p = subprocess.run([os.fsencode(harness.BIN), b"--once", b"--maillog.path=" + path],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, (p.returncode, p.stderr[-500:])
        check_exposition(p.stdout, path)
        promtool_check(p.stdout)


def test_live_scrape():
    with tempfile.TemporaryDirectory() as d:
        path = os.fsencode(d) + b"/" + WEIRD_NAME
        absent = os.fsencode(d) + b"/absent \xff.log"
        with open(path, "wb") as f:
            f.write(weird_lines())
        with Daemon("--maillog.path=" + os.fsdecode(path), "--maillog.start=beginning",
                    "--maillog.path=" + os.fsdecode(absent)) as dm:
            dm.wait_for(lambda m: any(k[0] == "maillog_lines_read_total" and v > 0
                                      for k, v in m.items()), timeout=10)
            status, headers, body = dm.get("/metrics")
            assert status == 200, status
            check_exposition(body, path)
            promtool_check(body)


cases.run(test_once_output)
cases.run(test_live_scrape)
cases.finish()
