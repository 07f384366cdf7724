"""Rotation torture, bounded to under a minute.

A writer appends real-shaped Postfix lines with known codes as fast as it
can, one small write each (sometimes half a line, then the rest), like a
syslog daemon that holds its fd and reopens on request. A rotator applies,
at random intervals, rename+create, copytruncate, delete+recreate and a
symlink swap. A churner creates and deletes files in the same directory,
and twice the daemon is stopped (SIGSTOP) while the churn queues far more
than fs.inotify.max_queued_events, so the kernel reports IN_Q_OVERFLOW
(no sysctl is touched).

At the end every line written to the followed path is counted exactly
once, except copytruncate's inherent window: lines written between the
copy and the truncate are overwritten before they may have been read.
Those lines carry their own code (421 4.4.2), so the loss is measured
exactly: every other code must match what was written, and 421 may fall
short by what the windows lost, never exceed it.
"""
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time

import harness
from harness import Cases, Daemon, postfix_line

RUN_SECONDS = 20
SETTLE_SECONDS = 20
CATCH_UP_SECONDS = 15
MAX_RATE = 40000      # lines/s: high, yet within what a sanitizer build reads
WINDOW = ("421", "4.4.2")


class Torture:
    def __init__(self, d):
        self.d = d
        self.path = os.path.join(d, "mail.log")
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.written = {}          # (code, enhanced) -> lines
        self.n = 0
        self.in_window = False
        self.window_lines = 0
        self.rotations = {"rename": 0, "copytruncate": 0, "delete": 0, "symlink": 0}
        self.seq = 0
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def reopen(self):
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def writer(self):
        rnd = random.Random(1)
        start = time.monotonic()
        while not self.stop.is_set():
            if self.n > (time.monotonic() - start) * MAX_RATE:
                time.sleep(0.001)
                continue
            with self.lock:
                key = WINDOW if self.in_window else harness.code_for(self.n)
                data = (postfix_line(self.n, *key) + "\n").encode()
                if rnd.random() < 0.05:
                    # A writer that flushes half a line, then the rest.
                    cut = rnd.randrange(1, len(data))
                    os.write(self.fd, data[:cut])
                    os.write(self.fd, data[cut:])
                else:
                    os.write(self.fd, data)
                self.written[key] = self.written.get(key, 0) + 1
                if self.in_window:
                    self.window_lines += 1
                self.n += 1

    def outside_window(self, dmn):
        """(counted, written) per code, the copytruncate window's code aside."""
        got = harness.status_counts(dmn.metrics(), mta="postfix")
        got.pop(WINDOW, None)
        return got, {k: v for k, v in self.written.items() if k != WINDOW}

    def counted_outside_window(self, dmn):
        got, want = self.outside_window(dmn)
        return got == want

    def rotate(self, dmn, mode):
        self.seq += 1
        old = "%s.%d" % (self.path, self.seq)
        if mode == "copytruncate":
            # Writer paused, as logrotate's copytruncate has no such pause;
            # the test needs everything before the copy to be read so that
            # the window lines alone are at risk.
            with self.lock:
                deadline = time.monotonic() + CATCH_UP_SECONDS
                while not self.counted_outside_window(dmn):
                    assert time.monotonic() < deadline, \
                        "daemon did not catch up before a copytruncate: counted %s, written %s" \
                        % self.outside_window(dmn)
                    time.sleep(0.01)
                self.in_window = True
            time.sleep(0.002)
            shutil.copyfile(self.path, old)
            time.sleep(0.002)
            with self.lock:
                os.truncate(self.path, 0)
                self.in_window = False
        else:
            with self.lock:
                if mode == "rename":
                    os.rename(self.path, old)
                elif mode == "delete":
                    os.unlink(self.path)
                else:
                    target = os.path.join(self.d, "real.%d" % self.seq)
                    open(target, "w").close()
                    tmp = self.path + ".tmp"
                    os.symlink(target, tmp)
                    os.rename(tmp, self.path)
                self.reopen()
        self.rotations[mode] += 1

    def churner(self):
        i = 0
        while not self.stop.is_set():
            p = os.path.join(self.d, "churn.%d" % (i % 50))
            open(p, "w").close()
            os.unlink(p)
            i += 1
            time.sleep(0.0005)

    def overflow(self, dmn):
        """Stop the daemon, queue more events than the kernel keeps, resume."""
        limit = int(open("/proc/sys/fs/inotify/max_queued_events").read())
        dmn.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(limit // 2 + 1000):
                p = os.path.join(self.d, "flood.%d" % i)
                open(p, "w").close()
                os.unlink(p)
        finally:
            dmn.proc.send_signal(signal.SIGCONT)


def test_torture():
    d = tempfile.mkdtemp(prefix="torture.")
    try:
        t = Torture(d)
        with Daemon("--maillog.path=" + t.path, "--maillog.start=beginning") as dmn:
            threads = [threading.Thread(target=t.writer), threading.Thread(target=t.churner)]
            for th in threads:
                th.start()
            rnd = random.Random(42)
            modes = ["rename", "copytruncate", "delete", "symlink"]
            start = time.monotonic()
            overflow_at = [RUN_SECONDS * 0.3, RUN_SECONDS * 0.7]
            i = 0
            try:
                while time.monotonic() - start < RUN_SECONDS:
                    time.sleep(rnd.uniform(0.05, 0.6))
                    if overflow_at and time.monotonic() - start > overflow_at[0]:
                        overflow_at.pop(0)
                        t.overflow(dmn)
                    # Each mode once first, then at random.
                    t.rotate(dmn, modes[i] if i < len(modes) else rnd.choice(modes))
                    i += 1
            finally:
                t.stop.set()
                for th in threads:
                    th.join()
            deadline = time.monotonic() + SETTLE_SECONDS
            while not t.counted_outside_window(dmn) and time.monotonic() < deadline:
                time.sleep(0.2)
            m = dmn.metrics()
            got = harness.status_counts(m, mta="postfix")
            assert dmn.proc.poll() is None, "daemon died: " + dmn.stderr()[-2000:]
        window_counted = got.pop(WINDOW, 0)
        written = dict(t.written)
        window_written = written.pop(WINDOW, 0)
        total = sum(t.written.values())
        counted = sum(got.values()) + window_counted
        overflows = sum(v for (name, _), v in m.items()
                        if name == "maillog_inotify_overflows_total")
        print("lines written %d, counted %d; copytruncate windows: %d lines written, %d "
              "counted, %d lost; rotations %s; inotify overflows %d"
              % (total, counted, window_written, window_counted,
                 window_written - window_counted, t.rotations, overflows))
        assert got == written, "outside the copytruncate window: counted %s, written %s" % (
            got, written)
        assert window_counted <= window_written, (window_counted, window_written)
        assert all(t.rotations.values()), t.rotations
        assert overflows >= 1, "no inotify overflow was provoked"
        assert "inotify queue overflow" in dmn.stderr()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    harness.require_binary()
    c = Cases()
    c.run(test_torture)
    c.finish()
