"""Shared helpers for the black-box tests: run the real binary, scrape it,
parse the exposition, and report cases.

Python standard library only; every server the tests start listens on
127.0.0.1 and is stopped by PID.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.environ.get("MAILLOG_EXPORTER", "")
SKIP = 77


def require_binary():
    if not BIN or not os.access(BIN, os.X_OK):
        print("SKIP: MAILLOG_EXPORTER does not name the built binary")
        sys.exit(SKIP)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postfix_line(n, code="250", enhanced="2.0.0", status=None, host="mx"):
    """A real-shaped Postfix smtp delivery line with the given reply."""
    if status is None:
        status = {"2": "sent", "4": "deferred", "5": "bounced"}[code[0]]
    if code.startswith("2"):
        reply = "%s %s Ok: queued as Q%05d" % (code, enhanced, n)
    else:
        reply = ("host mx.example.net[192.0.2.7] said: %s %s <u%d@example.com>: "
                 "Recipient address rejected (in reply to RCPT TO command)"
                 % (code, enhanced, n))
    return ("Nov 28 14:10:%02d %s postfix/smtp[4242]: 4A%05X: to=<u%d@example.com>, "
            "relay=mx.example.net[192.0.2.7]:25, delay=0.12, delays=0.01/0/0.05/0.06, "
            "dsn=%s, status=%s (%s)" % (n % 60, host, n, n, enhanced, status, reply))


# The mix the writers use: (code, enhanced) chosen by line number.
def code_for(n):
    if n % 11 == 0:
        return ("550", "5.1.1")
    if n % 7 == 0:
        return ("451", "4.3.0")
    return ("250", "2.0.0")


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Return {(name, frozenset(labels.items())): value} for every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def status_counts(metrics, **want):
    """{(code, enhanced): value} of maillog_smtp_status_total samples whose
    labels include `want`."""
    out = {}
    for (name, labels), v in metrics.items():
        if name != "maillog_smtp_status_total":
            continue
        d = dict(labels)
        if all(d.get(k) == val for k, val in want.items()):
            key = (d["code"], d["enhanced"])
            out[key] = out.get(key, 0) + int(v)
    return out


def value(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def append_all(src, dst):
    """Append file src to file dst in 1 MiB writes, each flushed: a busy
    writer as the benchmarks feed the daemon (bench.py, floor.py)."""
    with open(src, "rb") as fin, open(dst, "ab") as fout:
        while True:
            chunk = fin.read(1 << 20)
            if not chunk:
                break
            fout.write(chunk)
            fout.flush()


class Daemon:
    """The exporter in daemon mode on a free loopback port."""

    def __init__(self, *args, port=None, spawn=subprocess.Popen):
        """spawn starts the process (Popen's arguments): a benchmark passes
        one that pins it to a CPU."""
        self.port = port or free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.errfile = tempfile.TemporaryFile()
        self.proc = spawn(
            [BIN, "--web.listen-address=" + self.addr] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errfile)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("daemon exited %s: %s" % (self.proc.returncode,
                                                                self.stderr()))
            try:
                self.get("/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("daemon did not answer: " + self.stderr())
                time.sleep(0.02)

    def url(self, path):
        return "http://%s%s" % (self.addr, path)

    def get(self, path, method="GET", headers=None):
        """(status, headers, body) of one request; HTTP errors are returned."""
        req = urllib.request.Request(self.url(path), method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def metrics(self, path="/metrics"):
        status, _, body = self.get(path)
        assert status == 200, status
        return parse_metrics(body.decode("utf-8"))

    def wait_for(self, predicate, timeout=20):
        """Scrape until predicate(metrics) is true; return the last metrics."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if predicate(m):
                return m
            if time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM, then SIGKILL after a deadline. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run(*args, stdin=None, timeout=60):
    """Run the binary to completion: (exit code, stdout, stderr) as text."""
    p = subprocess.run([BIN] + list(args), input=stdin, capture_output=True,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


class Cases:
    """Runs named test functions, prints one line each, and ends with
    'N passed, N failed'. Exit 1 if any failed."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, fn):
        name = fn.__name__
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - report every failure
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
        else:
            self.passed += 1
            print("ok   %s" % name)
        sys.stdout.flush()

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
