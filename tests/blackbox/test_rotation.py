#!/usr/bin/env python3
"""Black-box rotation test of the real maillog_exporter binary.

For each rotation mode (rename+create, copytruncate, delete+recreate,
symlink repoint, file absent at start) a writer thread appends real Postfix
delivery lines with known codes while the log is rotated several times,
pausing briefly around each rotation as logrotate does. /metrics is then
polled until the per-code counts settle, and they must equal exactly what
was written: nothing lost, nothing counted twice.

Like logrotate, which rotates a log long after it was created, each
rotation waits until the daemon can have read what it is about to take
away: for rename, delete and symlink until the daemon holds the file now at
the path (/proc/PID/fd), for copytruncate until every line written so far
is counted. Without that wait a daemon starved of CPU for a fraction of a
second on a loaded machine would miss a file deleted before it looked, or
lines truncated before it read them, which no reader could count; with it,
a loss can only be the daemon's fault. The wait is bounded (CATCH_UP).

The binary comes from $MAILLOG_EXPORTER. Exit 77 (skip) if it is missing or
not a working daemon yet. Python 3 stdlib only; loopback only; temp dirs.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

LINES_PER_SEGMENT = 60
ROTATIONS = 4
PAUSE = 0.08            # around each rotation, as logrotate's pre/postrotate
SETTLE_DEADLINE = 12.0  # per mode, for the counts to reach what was written
CATCH_UP = 10.0         # longest the daemon may lag before a rotation
TOTAL_DEADLINE = 58.0

PREFIX = "Nov 28 14:10:01 mx postfix/smtp[123]: 4ABC{n:X}: to=<u{n}@example.com>, " \
         "relay=mx.example.net[192.0.2.1]:25, delay=0.1, delays=0/0/0/0.1, "


def line_for(n):
    """A Postfix delivery line and the (code, enhanced) it must count as."""
    if n % 7 == 0:
        return (PREFIX.format(n=n) + "dsn=5.1.1, status=bounced (host mx.example.net"
                "[192.0.2.1] said: 550 5.1.1 <u{n}@example.com>: Recipient address "
                "rejected: User unknown in local recipient table (in reply to RCPT TO "
                "command))".format(n=n)), ("550", "5.1.1")
    if n % 11 == 0:
        return (PREFIX.format(n=n) + "dsn=4.7.1, status=deferred (host mx.example.net"
                "[192.0.2.1] said: 451 4.7.1 Try again later (in reply to RCPT TO "
                "command))"), ("451", "4.7.1")
    return (PREFIX.format(n=n) + "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "
            "X{n:X})".format(n=n)), ("250", "2.0.0")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=3) as r:
        return r.read().decode("utf-8", "replace")


def parse(text):
    """Per-(code, enhanced) counts of outbound postfix statuses, and lines read."""
    codes, lines_read = {}, None
    for ln in text.splitlines():
        if ln.startswith("maillog_smtp_status_total{"):
            labels = dict(LABEL_RE.findall(ln[:ln.rindex("}")]))
            if labels.get("mta") != "postfix" or labels.get("direction") != "outbound":
                continue
            key = (labels.get("code", ""), labels.get("enhanced", ""))
            codes[key] = codes.get(key, 0) + int(float(ln.rsplit(" ", 1)[1]))
        elif ln.startswith("maillog_lines_read_total"):
            lines_read = (lines_read or 0) + int(float(ln.rsplit(" ", 1)[1]))
    return codes, lines_read


class Writer(threading.Thread):
    """Appends lines like syslog does (one fd, reopened after rotation) and
    rotates the log in one mode between segments."""

    def __init__(self, mode, d, path, pid, port):
        super().__init__(daemon=True)
        self.mode, self.d, self.path = mode, d, path
        self.pid, self.port = pid, port
        self.expected = {}
        self.written = 0
        self.lost_in_window = 0
        self.error = None
        self.n = 1
        self.target_no = 0

    def emit(self, f, count):
        for _ in range(count):
            text, key = line_for(self.n)
            self.n += 1
            f.write(text + "\n")
            f.flush()
            self.expected[key] = self.expected.get(key, 0) + 1
            self.written += 1
            time.sleep(0.002)

    def target(self):
        return os.path.join(self.d, "targets", "mail.log.%d" % self.target_no)

    def open_log(self):
        if self.mode == "symlink":
            return open(self.target(), "a")
        return open(self.path, "a")

    def wait_open(self):
        """Until the daemon holds the file now at the path (following a
        symlink); only this thread changes what is there."""
        st = os.stat(self.path)
        fds = "/proc/%d/fd" % self.pid
        deadline = time.monotonic() + CATCH_UP
        while True:
            for name in os.listdir(fds):
                try:
                    fst = os.stat(os.path.join(fds, name))
                except OSError:
                    continue
                if (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino):
                    return
            if time.monotonic() > deadline:
                raise AssertionError("the daemon did not open %s within %.0f s"
                                     % (self.path, CATCH_UP))
            time.sleep(0.005)

    def wait_counted(self):
        """Until every line written so far is counted."""
        deadline = time.monotonic() + CATCH_UP
        while parse(scrape(self.port))[0] != self.expected:
            if time.monotonic() > deadline:
                raise AssertionError("the daemon did not count what was written "
                                     "within %.0f s" % CATCH_UP)
            time.sleep(0.01)

    def rotate(self, f, k):
        """Rotate; return the writer's fd for the next segment."""
        old = "%s.%d" % (self.path, k)
        if self.mode == "copytruncate":
            self.wait_counted()
        else:
            self.wait_open()
        time.sleep(PAUSE)
        if self.mode in ("rename", "absent"):
            os.rename(self.path, old)
            self.emit(f, 3)          # the writer has not reopened yet
            time.sleep(PAUSE)
            f.close()
            return open(self.path, "a")
        if self.mode == "copytruncate":
            shutil.copyfile(self.path, old)
            # Lines written between the copy and the truncate would be lost
            # (logrotate's documented window). The writer is paused here,
            # so that count is 0 by construction; it is reported anyway.
            os.truncate(self.path, 0)
            time.sleep(PAUSE)
            return f
        if self.mode == "delete":
            os.unlink(self.path)
            self.emit(f, 3)          # appended to the deleted inode
            time.sleep(PAUSE)
            f.close()
            return open(self.path, "a")
        if self.mode == "symlink":
            self.target_no += 1
            nf = open(self.target(), "a")
            tmp = self.path + ".tmp"
            os.symlink(os.path.join("targets", "mail.log.%d" % self.target_no), tmp)
            os.replace(tmp, self.path)
            self.emit(f, 3)          # still appending to the old target
            time.sleep(PAUSE)
            f.close()
            return nf
        raise ValueError(self.mode)

    def run(self):
        try:
            if self.mode == "absent":
                time.sleep(0.4)      # the daemon waits for the file
            f = self.open_log()
            for k in range(1, ROTATIONS + 1):
                self.emit(f, LINES_PER_SEGMENT)
                f = self.rotate(f, k)
            self.emit(f, LINES_PER_SEGMENT)
            f.close()
        except Exception as e:      # reported by the main thread
            self.error = e


def stop(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def run_mode(binary, mode, t_end):
    d = tempfile.mkdtemp(prefix="mlx-rot-%s-" % mode)
    path = os.path.join(d, "mail.log")
    errlog = os.path.join(d, "stderr.log")
    proc = None
    try:
        if mode == "symlink":
            os.mkdir(os.path.join(d, "targets"))
            open(os.path.join(d, "targets", "mail.log.0"), "w").close()
            os.symlink(os.path.join("targets", "mail.log.0"), path)
        elif mode != "absent":
            open(path, "w").close()
        port = free_port()
        with open(errlog, "w") as err:
            proc = subprocess.Popen(
                [binary, "--maillog.path=" + path, "--maillog.start=beginning",
                 "--web.listen-address=127.0.0.1:%d" % port],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        up = time.monotonic() + 5
        while True:
            try:
                scrape(port)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > up:
                    return False, "daemon did not come up (exit %s): %s" % (
                        proc.poll(), open(errlog).read()[-300:].strip())
                time.sleep(0.05)

        w = Writer(mode, d, path, proc.pid, port)
        w.start()
        w.join(timeout=max(1.0, t_end - time.monotonic()))
        if w.is_alive():
            return False, "writer did not finish in time"
        if w.error is not None:
            return False, "writer failed: %r" % (w.error,)

        deadline = min(time.monotonic() + SETTLE_DEADLINE, t_end)
        got, lines_read = {}, None
        while time.monotonic() < deadline:
            got, lines_read = parse(scrape(port))
            if got == w.expected:
                time.sleep(0.6)     # a double count would show up now
                got, lines_read = parse(scrape(port))
                break
            time.sleep(0.2)
        summary = ", ".join("%s/%s=%d" % (c, e, n) for (c, e), n in sorted(w.expected.items()))
        if proc.poll() is not None:
            return False, "daemon exited with %s" % proc.returncode
        if got != w.expected:
            diff = ", ".join("%s/%s want %d got %d" % (k[0], k[1], w.expected.get(k, 0), got.get(k, 0))
                             for k in sorted(set(got) | set(w.expected))
                             if got.get(k, 0) != w.expected.get(k, 0))
            return False, "counts differ: %s (lost in copytruncate window: %d)" % (
                diff, w.lost_in_window)
        if lines_read is not None and lines_read != w.written:
            return False, "maillog_lines_read_total %d != %d written" % (lines_read, w.written)
        extra = " lost_in_copy_window=%d" % w.lost_in_window if mode == "copytruncate" else ""
        return True, "%d lines (lines_read=%s), %d rotations: %s%s" % (
            w.written, "n/a" if lines_read is None else lines_read, ROTATIONS, summary, extra)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(d, ignore_errors=True)


def main():
    binary = os.environ.get("MAILLOG_EXPORTER", "")
    if not binary or not os.access(binary, os.X_OK):
        print("SKIP: MAILLOG_EXPORTER not set or not executable")
        return 77
    try:
        v = subprocess.run([binary, "--version"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("SKIP: %s --version failed: %s" % (binary, e))
        return 77
    if v.returncode != 0:
        print("SKIP: %s --version exited %d (binary not ready)" % (binary, v.returncode))
        return 77

    t_end = time.monotonic() + TOTAL_DEADLINE
    passed = failed = 0
    for mode in ("rename", "copytruncate", "delete", "symlink", "absent"):
        if time.monotonic() > t_end - 5:
            print("FAIL %s: out of time" % mode)
            failed += 1
            continue
        try:
            ok, msg = run_mode(binary, mode, t_end)
        except Exception as e:
            ok, msg = False, "exception: %r" % (e,)
        print("%s %s: %s" % ("ok  " if ok else "FAIL", mode, msg))
        sys.stdout.flush()
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
