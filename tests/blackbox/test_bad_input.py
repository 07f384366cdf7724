"""Bad input: the daemon keeps running and keeps counting the good lines
around NUL bytes, invalid UTF-8, a 10 MiB line, a binary file, a log
replaced by a directory, a log it may not read (as an unprivileged user,
via --run-as; root only), codes that are not codes (999, 6.1.1, 5.1234.1),
a 300-character domain, and a path holding quotes, backslashes and a
newline (the path label). Each error has its counter and a rate-limited
message; the exposition stays valid UTF-8 throughout.

(A state file on a full disk belongs to the state-file feature, not built
yet.)"""
import os
import pwd
import random
import shutil
import tempfile
import time

import harness
from harness import Cases, Daemon, postfix_line

GOOD = ("250", "2.0.0")


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def good(n):
    return (postfix_line(n, *GOOD) + "\n").encode()


def scrape_text(dmn):
    status, _, body = dmn.get("/metrics")
    assert status == 200, status
    return body.decode("utf-8")   # strict: raises on invalid UTF-8


def wait_good(dmn, want, path=None):
    m = dmn.wait_for(lambda m: harness.status_counts(m, mta="postfix").get(GOOD, 0) >= want)
    got = harness.status_counts(m, mta="postfix").get(GOOD, 0)
    assert got == want, "good lines: counted %d, want %d" % (got, want)
    assert dmn.proc.poll() is None, "daemon exited: " + dmn.stderr()[-2000:]
    return m


def src(m, name, path):
    return harness.value(m, name, path=path)


def test_content():
    """NULs, invalid UTF-8, a 10 MiB line, non-codes, a long domain."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        with Daemon("--maillog.path=" + log) as dmn:
            n = 0
            append(log, b"\0\0\0" + good(n)); n += 1                      # leading NULs
            append(log, b"junk\0with\0nuls\n" + good(n)); n += 1
            append(log, postfix_line(n, *GOOD).replace("u%d@" % n, "\xff\xfe\xc3(@")
                   .encode("latin-1") + b"\n"); n += 1                    # invalid UTF-8 address
            append(log, b"x" * (10 << 20) + b"\n" + good(n)); n += 1        # 10 MiB line
            for bad in ("999 6.1.1", "550 5.1234.1", "600 6.1.1"):
                line = postfix_line(1000, "550", "5.1.1").replace("550 5.1.1", bad)
                append(log, line.encode() + b"\n")
            domain = "d" * 290 + ".example"
            append(log, postfix_line(2000, *GOOD).replace("example.com", domain).encode() + b"\n")
            n += 1
            append(log, good(n)); n += 1
            m = wait_good(dmn, n)
            text = scrape_text(dmn)
            assert src(m, "maillog_overlong_lines_total", log) == 1
            assert "skipped a line longer than 65536 bytes" in dmn.stderr()
            for bad in ('code="999"', 'code="600"', 'enhanced="6.1.1"', 'enhanced="5.1234.1"'):
                assert bad not in text, bad
            # The non-codes were still lines with a status: counted, without them.
            assert harness.status_counts(m, mta="postfix").get(("", "5.1.1"), 0) >= 1 or \
                sum(harness.status_counts(m, mta="postfix").values()) > n


def test_binary_file():
    with tempfile.TemporaryDirectory() as d:
        log, junk = os.path.join(d, "mail.log"), os.path.join(d, "binary.log")
        open(log, "w").close()
        open(junk, "w").close()
        with Daemon("--maillog.path=" + log, "--maillog.path=" + junk) as dmn:
            rnd = random.Random(7)
            blob = bytes(rnd.getrandbits(8) for _ in range(2 << 20))
            append(junk, blob + b"\nstatus=bounced (garbage)\n")
            append(log, good(0) + good(1))
            m = wait_good(dmn, 2)
            m = dmn.wait_for(lambda m: src(m, "maillog_bytes_read_total", junk) >= len(blob))
            assert src(m, "maillog_bytes_read_total", junk) == len(blob) + 26
            assert src(m, "maillog_lines_read_total", junk) > 0
            scrape_text(dmn)


def test_replaced_by_directory():
    with tempfile.TemporaryDirectory() as d:
        log, other = os.path.join(d, "mail.log"), os.path.join(d, "other.log")
        open(log, "w").close()
        open(other, "w").close()
        with Daemon("--maillog.path=" + log, "--maillog.path=" + other) as dmn:
            append(log, good(0))
            wait_good(dmn, 1)
            os.unlink(log)
            os.mkdir(log)
            m = dmn.wait_for(lambda m: src(m, "maillog_open_errors_total", log) >= 1)
            assert src(m, "maillog_open_errors_total", log) >= 1
            assert harness.value(m, "maillog_source_state", path=log, state="error") == 1
            assert "cannot follow %s: not a regular file" % log in dmn.stderr()
            status, _, body = dmn.get("/healthz")
            assert status == 503, (status, body)
            append(other, good(1))
            wait_good(dmn, 2)
            os.rmdir(log)
            append(log, good(2))
            wait_good(dmn, 3)


def test_permission_denied():
    if os.geteuid() != 0:
        print("  (skipped: needs root to run the daemon as nobody)")
        return
    nobody = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp()
    try:
        os.chmod(d, 0o755)
        log, secret = os.path.join(d, "mail.log"), os.path.join(d, "secret.log")
        for p, mode in ((log, 0o644), (secret, 0o600)):
            open(p, "w").close()
            os.chmod(p, mode)
        with Daemon("--maillog.path=" + log, "--maillog.path=" + secret,
                    "--run-as=nobody") as dmn:
            # Opened as root at start; a rotation makes it reopen as nobody.
            # Created 0600 at once, as logrotate's create does: a chmod after
            # the create would leave a moment in which anyone may open it.
            os.rename(secret, secret + ".1")
            os.close(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            append(secret, good(99))
            m = dmn.wait_for(lambda m: src(m, "maillog_open_errors_total", secret) >= 1)
            assert src(m, "maillog_open_errors_total", secret) >= 1, m
            assert "cannot open %s: Permission denied" % secret in dmn.stderr(), dmn.stderr()
            append(log, good(0))
            wait_good(dmn, 1)
            assert os.stat("/proc/%d" % dmn.proc.pid).st_uid == nobody.pw_uid
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_label_escaping_in_path():
    d = tempfile.mkdtemp()
    try:
        sub = os.path.join(d, 'we"ird\\dir\nname')
        os.mkdir(sub)
        log = os.path.join(sub, "mail.log")
        open(log, "w").close()
        with Daemon("--maillog.path=" + log) as dmn:
            append(log, good(0))
            wait_good(dmn, 1)
            text = scrape_text(dmn)
            esc = log.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            assert 'maillog_lines_read_total{path="%s"} 1' % esc in text, text[:3000]
            harness.parse_metrics(text)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.require_binary()
    c = Cases()
    c.run(test_content)
    c.run(test_binary_file)
    c.run(test_replaced_by_directory)
    c.run(test_permission_denied)
    c.run(test_label_escaping_in_path)
    c.finish()
