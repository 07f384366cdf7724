"""Rotation torture, bounded to under a minute.

A writer appends real-shaped Postfix lines with known codes as fast as it
can, one small write each (sometimes half a line, then the rest), like a
syslog daemon that holds its fd and reopens on request. A rotator applies,
at random intervals, rename+create, copytruncate, delete+recreate and a
symlink swap. A churner creates and deletes files in the same directory,
and twice the daemon is stopped (SIGSTOP) while the churn queues far more
than fs.inotify.max_queued_events, so the kernel reports IN_Q_OVERFLOW
(no sysctl is touched).

Like logrotate, which rotates a log hours after it was created, the
rotator pauses before each rotation until the daemon can have read the file
it is about to rotate away: for rename, delete and symlink swaps, until the
daemon holds an fd on that inode (seen in /proc/PID/fd); for copytruncate,
until every line written so far is counted. Without that pause a file
created by one rotation and deleted or unlinked from the name by the next
one before the daemon looked (a turn after an overflow reads 4 MiB, which
takes ~100-200 ms in a sanitizer build on a loaded machine) would be lost
to any reader; with it, a loss can only be the daemon's fault. The pause
never hides a daemon that fails to open a file: it is bounded, and running
out of time fails the test. (The race where the daemon saw the new file but
opened the name again only after draining the old one is pinned down
deterministically in tests/test_tailer.c.)

At the end every line written to the followed path is counted exactly
once, except copytruncate's inherent window: lines written between the
copy and the truncate are overwritten before they may have been read.
Those lines carry their own code (421 4.4.2), so the loss is measured
exactly: every other code must match what was written, and 421 may fall
short by what the windows lost, never exceed it.

The whole test is bounded (TOTAL_SECONDS, well under a minute) in release
and sanitizer builds alike: every wait is cut at the overall deadline.
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

RUN_SECONDS = 15        # rotations start only in this first stretch
TOTAL_SECONDS = 45      # every wait ends by then, startup to final count
CATCH_UP_SECONDS = 10   # longest the daemon may lag before a rotation
MAX_RATE = 40000      # lines/s: high, yet within what a sanitizer build reads
WINDOW = ("421", "4.4.2")


class Torture:
    def __init__(self, d, deadline):
        self.d = d
        self.deadline = deadline
        self.path = os.path.join(d, "mail.log")
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.written = {}          # (code, enhanced) -> lines
        self.n = 0
        self.in_window = False
        self.window_lines = 0
        self.rotations = {"rename": 0, "copytruncate": 0, "delete": 0, "symlink": 0}
        self.max_open_wait = 0.0   # longest pause for the daemon to open a file
        self.seq = 0
        self.begin = time.monotonic()
        self.history = []          # what happened when, printed on failure
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

    def wait_deadline(self):
        return min(time.monotonic() + CATCH_UP_SECONDS, self.deadline)

    def wait_until_open(self, dmn):
        """Pause until the daemon holds the file now at the path (following
        a symlink). Only the rotator changes what is at the path, so the
        daemon still holds it when the rotation comes."""
        st = os.stat(self.path)
        fds = "/proc/%d/fd" % dmn.proc.pid
        start = time.monotonic()
        deadline = self.wait_deadline()
        while True:
            for name in os.listdir(fds):
                try:
                    fst = os.stat(os.path.join(fds, name))
                except OSError:
                    continue    # closed meanwhile, or a socket's peer gone
                if (fst.st_dev, fst.st_ino) == (st.st_dev, st.st_ino):
                    self.max_open_wait = max(self.max_open_wait, time.monotonic() - start)
                    return
            assert time.monotonic() < deadline, \
                "the daemon did not open %s (inode %d) within %.1f s" % (
                    self.path, st.st_ino, time.monotonic() - start)
            time.sleep(0.005)

    def rotate(self, dmn, mode):
        self.seq += 1
        old = "%s.%d" % (self.path, self.seq)
        if mode == "copytruncate":
            # Writer paused, as logrotate's copytruncate has no such pause;
            # the test needs everything before the copy to be read so that
            # the window lines alone are at risk.
            with self.lock:
                deadline = self.wait_deadline()
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
            self.wait_until_open(dmn)
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
        self.history.append("%.3f %s %d" % (time.monotonic() - self.begin, mode, self.seq))

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
        self.history.append("%.3f overflow" % (time.monotonic() - self.begin))
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
    begin = time.monotonic()
    try:
        t = Torture(d, begin + TOTAL_SECONDS)
        with Daemon("--maillog.path=" + t.path, "--maillog.start=beginning") as dmn:
            threads = [threading.Thread(target=t.writer), threading.Thread(target=t.churner)]
            for th in threads:
                th.start()
            rnd = random.Random(42)
            modes = ["rename", "copytruncate", "delete", "symlink"]
            start = time.monotonic()
            overflow_at = [RUN_SECONDS * 0.3, RUN_SECONDS * 0.6]
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
            except Exception:
                print("rotations: " + ", ".join(t.history))
                print("daemon's log (end):\n" + dmn.stderr()[-6000:])
                raise
            finally:
                t.stop.set()
                for th in threads:
                    th.join()
            while not t.counted_outside_window(dmn) and time.monotonic() < t.deadline:
                time.sleep(0.1)
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
              "counted, %d lost; outside them %d lost; rotations %s; inotify overflows %d; "
              "longest pause for the daemon to open a file %.3f s; %.1f s in all"
              % (total, counted, window_written, window_counted,
                 window_written - window_counted,
                 sum(written.values()) - sum(got.values()), t.rotations, overflows,
                 t.max_open_wait, time.monotonic() - begin))
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
