#!/usr/bin/env python3
"""--state.file: counters and offsets across restarts, black-box.

A writer appends real Postfix lines while the daemon is killed with
SIGKILL at random moments and restarted; the log is rotated or truncated
while the daemon is stopped; the state file is corrupted. In each case the
last run's counters must equal what `--once` counts over every line
written (no line lost, none counted twice), and, across all runs, no
series of the counter families may ever go down between two scrapes.
Also: SIGTERM writes the snapshot and exits 0, and however fast /metrics
is scraped the state file is replaced at most about once a second.
"""
import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, Cases, Daemon, code_for, free_port,  # noqa: E402
                     parse_metrics, postfix_line, require_binary, run)

require_binary()

# The families the aggregator owns: every one must survive a restart
# unchanged and equal --once over the same lines. Path-labelled self
# metrics are compared separately (their label is the path given).
COUNTED = ("maillog_smtp_status_total", "maillog_smtp_reason_total",
           "maillog_outcomes_total", "maillog_domain_status_total",
           "maillog_lines_matched_total", "maillog_unmatched_lines_total",
           "maillog_messages_received_total", "maillog_delivery_delay_seconds_bucket",
           "maillog_delivery_delay_seconds_count", "maillog_delivery_delay_seconds_sum")
MONOTONIC = COUNTED + ("maillog_lines_read_total", "maillog_bytes_read_total")


def counted(metrics):
    return {k: v for k, v in metrics.items() if k[0] in COUNTED}


def once(*paths):
    rc, out, err = run("--once", *["--maillog.path=" + p for p in paths])
    assert rc == 0, err
    return counted(parse_metrics(out))


class Monotonic:
    """Every scrape of every run: no MONOTONIC series may go down."""

    def __init__(self):
        self.seen = {}
        self.scrapes = 0

    def check(self, metrics):
        self.scrapes += 1
        for k, v in metrics.items():
            if k[0] not in MONOTONIC:
                continue
            was = self.seen.get(k)
            assert was is None or v >= was, "%s went down: %s -> %s" % (k, was, v)
            self.seen[k] = v
        for k in self.seen:
            assert k in metrics, "%s disappeared" % (k,)


def write_lines(path, start, count):
    with open(path, "a") as f:
        for n in range(start, start + count):
            code, enh = code_for(n)
            f.write(postfix_line(n, code, enh) + "\n")
    return start + count


def by_class(counts):
    """The domain family summed over domain: which domain earns a label
    depends on the order lines arrive in (a sketch promotes it after a few
    hits), so two --once runs over two halves label differently from one
    run over both, while every total per class is the same. Delay sums are
    rounded: two partial float sums added differ in the last bits."""
    out = {}
    for (name, labels), v in counts.items():
        if name == "maillog_domain_status_total":
            labels = frozenset((k, x) for k, x in labels if k != "domain")
        out[(name, labels)] = out.get((name, labels), 0) + v
    return {k: round(v, 6) for k, v in out.items()}


def settle(d, want, mono, timeout=20, view=lambda c: c):
    """Scrape until the counted families equal want; return the last."""
    deadline = time.monotonic() + timeout
    want = view(want)
    while True:
        m = d.metrics()
        mono.check(m)
        if view(counted(m)) == want:
            return m
        if time.monotonic() > deadline:
            diff = {k: (v, want.get(k)) for k, v in view(counted(m)).items()
                    if want.get(k) != v}
            missing = [k for k in want if k not in m]
            raise AssertionError("counts never settled: differ %s, missing %s"
                                 % (list(diff.items())[:4], missing[:4]))
        time.sleep(0.1)


def daemon(tmp, *extra):
    return Daemon("--maillog.path=" + os.path.join(tmp, "mail.log"),
                  "--state.file=" + os.path.join(tmp, "state"), *extra)


def sigkill(d):
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()


def test_kill9_while_writing():
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        stop = threading.Event()
        written = [0]

        def writer():
            n = written[0]
            while not stop.is_set():
                n = write_lines(log, n, random.randint(1, 40))
                written[0] = n
                time.sleep(random.uniform(0, 0.01))

        n = write_lines(log, 0, 200)
        written[0] = n
        mono = Monotonic()
        rng = random.Random(5)
        t = threading.Thread(target=writer)
        # The writer starts after the first run has opened the file, so
        # --maillog.start=beginning and "everything" mean the same lines.
        for run_no in range(6):
            d = daemon(tmp, "--maillog.start=beginning", "--state.interval=1")
            if run_no == 0:
                t.start()
            end = time.monotonic() + rng.uniform(0.3, 2.0)
            while time.monotonic() < end:
                mono.check(d.metrics())
                time.sleep(rng.uniform(0, 0.3))
            sigkill(d)
        stop.set()
        t.join()
        with daemon(tmp, "--maillog.start=beginning") as d:
            settle(d, once(log), mono)
            m = d.metrics()
            read = m[("maillog_lines_read_total", frozenset({("path", log)}))]
            assert read == written[0], "lines read %s, written %s" % (read, written[0])
            assert d.stop() == 0, d.stderr()
        assert mono.scrapes > 10, mono.scrapes
    finally:
        shutil.rmtree(tmp)


def run_and_stop(tmp, want, mono, *extra, view=lambda c: c):
    with daemon(tmp, *extra) as d:
        settle(d, want, mono, view=view)
        rc = d.stop()
        assert rc == 0, "SIGTERM: exit %s: %s" % (rc, d.stderr())
        return d.stderr()


def test_rotation_while_stopped():
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        mono = Monotonic()
        n = write_lines(log, 0, 300)
        run_and_stop(tmp, once(log), mono, "--maillog.start=beginning")
        n = write_lines(log, n, 77)         # read by nobody yet
        os.rename(log, log + ".1")
        n = write_lines(log, n, 150)
        err = run_and_stop(tmp, once(log + ".1", log), mono)
        assert "rotated to %s.1 while we were stopped" % log in err, err
    finally:
        shutil.rmtree(tmp)


def test_truncation_while_stopped():
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        old = os.path.join(tmp, "old")
        mono = Monotonic()
        n = write_lines(log, 0, 100)
        run_and_stop(tmp, once(log), mono, "--maillog.start=beginning")
        shutil.copy(log, old)
        # copytruncate's truncate, then more than the old size written again:
        # only the hash can tell this from an appended file.
        with open(log, "w"):
            pass
        n = write_lines(log, n + 1000, 250)
        want = {}
        for part in (once(old), once(log)):
            for k, v in part.items():
                want[k] = want.get(k, 0) + v
        err = run_and_stop(tmp, want, mono, view=by_class)
        assert "truncated or replaced while we were stopped" in err, err
    finally:
        shutil.rmtree(tmp)


def test_corrupt_state_starts_fresh():
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        state = os.path.join(tmp, "state")
        write_lines(log, 0, 120)
        run_and_stop(tmp, once(log), Monotonic(), "--maillog.start=beginning")
        size = os.path.getsize(state)
        for damage, says in ((b"\x00" * 4, "checksum"), (None, "truncated"),
                             (b"NOTSTATE", "not a maillog_exporter state file"),
                             (b"\x07", "version 7")):
            data = bytearray(open(state, "rb").read())
            if damage is None:
                data = data[:size // 2]
            elif says.startswith("checksum"):
                data[40:44] = damage
            elif says.startswith("version"):
                data[8:9] = damage
            else:
                data[0:8] = damage
            open(state, "wb").write(bytes(data))
            err = run_and_stop(tmp, once(log), Monotonic(), "--maillog.start=beginning")
            assert says in err and "starting fresh" in err, err
        # Other --metrics options: refused as well, with the reason.
        with daemon(tmp, "--maillog.start=beginning", "--metrics.max-series=99") as d:
            settle(d, once(log), Monotonic())
            assert d.stop() == 0
            assert "other --metrics.* options" in d.stderr(), d.stderr()
    finally:
        shutil.rmtree(tmp)


def test_scrapes_cannot_force_writes():
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        state = os.path.join(tmp, "state")
        n = write_lines(log, 0, 10)
        with daemon(tmp, "--maillog.start=beginning", "--state.interval=3600") as d:
            stop = threading.Event()

            def hammer():
                while not stop.is_set():
                    d.get("/metrics")

            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for t in threads:
                t.start()
            inodes = set()
            end = time.monotonic() + 4
            while time.monotonic() < end:
                n = write_lines(log, n, 5)
                try:
                    inodes.add(os.stat(state).st_ino)
                except FileNotFoundError:
                    pass
                time.sleep(0.002)
            stop.set()
            for t in threads:
                t.join()
            # Every write is a rename, a new inode: about one a second,
            # never one per scrape (there were thousands).
            assert 2 <= len(inodes) <= 6, len(inodes)
            assert d.stop() == 0
    finally:
        shutil.rmtree(tmp)


def test_unwritable_state_stops_start():
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        write_lines(log, 0, 5)
        rc, _, err = run("--maillog.path=" + log, "--web.listen-address=127.0.0.1:%d"
                         % free_port(), "--state.file=" + os.path.join(tmp, "no", "state"))
        assert rc == 1, (rc, err)
        assert "cannot create %s/no/state.tmp" % tmp in err and "cannot be written" in err, err
    finally:
        shutil.rmtree(tmp)


def test_fresh_start_at_end_then_restart():
    """--maillog.start=end, stopped before a line arrived: the lines written
    while stopped are counted on restart, the old ones never."""
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        old = os.path.join(tmp, "old.log")
        n = write_lines(log, 0, 40)
        shutil.copy(log, old)
        with daemon(tmp) as d:
            assert d.stop() == 0
        new = os.path.join(tmp, "new.log")
        write_lines(new, n, 60)
        with open(log, "a") as f:
            f.write(open(new).read())
        run_and_stop(tmp, once(new), Monotonic())
    finally:
        shutil.rmtree(tmp)


def test_stdin_keeps_serving():
    """--maillog.path=- reads the pipe to EOF and then keeps serving."""
    lines = "".join(postfix_line(i, *code_for(i)) + "\n" for i in range(500))
    tmp = tempfile.mkdtemp(prefix="mlx-stdin-")
    try:
        path = os.path.join(tmp, "all.log")
        open(path, "w").write(lines)
        want = once(path)
        port = free_port()
        p = subprocess.Popen([BIN, "--maillog.path=-", "--web.listen-address=127.0.0.1:%d" % port],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        p.stdin.write(lines[:len(lines) // 3].encode())
        p.stdin.flush()
        time.sleep(0.3)
        p.stdin.write(lines[len(lines) // 3:].encode())
        p.stdin.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                            timeout=2) as r:
                    m = parse_metrics(r.read().decode())
                if counted(m) == want:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "stdin counts never settled"
            time.sleep(0.05)
        # EOF seen, still serving, source state "eof".
        time.sleep(0.5)
        assert p.poll() is None, "exited after EOF"
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
            m = parse_metrics(r.read().decode())
        assert counted(m) == want
        assert m[("maillog_source_state", frozenset({("path", "-"), ("state", "eof")}))] == 1
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    finally:
        shutil.rmtree(tmp)


def status_series(metrics):
    return {k: v for k, v in metrics.items() if k[0] == "maillog_smtp_status_total"}


def test_scrape_never_ahead_of_disk():
    """No scrape may show a count the state file does not hold: a kill -9
    right after a scrape, with the unread lines gone from where a restart
    could find them, must restart at or above every value scraped. The
    second scrape comes within a second of the snapshot the first forced,
    so the rate limit keeps it from writing another: if the web layer
    served live counters, it would show lines no snapshot has."""
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    away = tempfile.mkdtemp(prefix="mlx-state-away-")
    try:
        log = os.path.join(tmp, "mail.log")
        n = write_lines(log, 0, 60)
        d = daemon(tmp, "--maillog.start=beginning", "--state.interval=3600")
        try:
            time.sleep(1.2)
            settle(d, once(log), Monotonic())
            write_lines(log, n, 40)
            time.sleep(0.2)
            last = d.metrics()
        finally:
            sigkill(d)
        # Out of reach: not beside the log (where a restart looks for a
        # rotated file by inode), so nothing can be counted twice or late.
        os.rename(log, os.path.join(away, "mail.log"))
        open(log, "w").close()
        with daemon(tmp) as d:
            got = d.metrics()
            for k, v in status_series(last).items():
                assert got.get(k, 0) >= v, "%s: scraped %s before the kill, %s after" % (
                    k, v, got.get(k))
            assert status_series(last), "no status series scraped"
            assert d.stop() == 0, d.stderr()
    finally:
        shutil.rmtree(tmp)
        shutil.rmtree(away)


def test_full_disk_keeps_counting():
    """A state file on a full filesystem: every failed write is counted in
    maillog_state_write_errors_total and logged once per streak, the daemon
    keeps reading, and once there is room again the next snapshot publishes
    every line read meanwhile. Needs root and unshare for a private tiny
    tmpfs; the test reaches it through /proc/PID/root."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("     (skipped inside: needs root and unshare for a private tmpfs)")
        return
    tmp = tempfile.mkdtemp(prefix="mlx-state-")
    try:
        log = os.path.join(tmp, "mail.log")
        sdir = os.path.join(tmp, "small")
        os.mkdir(sdir)
        n = write_lines(log, 0, 30)
        port = free_port()
        errfile = tempfile.TemporaryFile()
        script = 'mount -t tmpfs -o size=12k none "$1" && shift && exec "$@"'
        p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                              script, "sh", sdir, BIN,
                              "--web.listen-address=127.0.0.1:%d" % port,
                              "--maillog.path=" + log, "--maillog.start=beginning",
                              "--state.file=" + os.path.join(sdir, "state"),
                              "--state.interval=1"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=errfile)

        def stderr():
            errfile.seek(0)
            return errfile.read().decode("utf-8", "replace")

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                        timeout=5) as r:
                return parse_metrics(r.read().decode())

        def wait(pred, what):
            deadline = time.monotonic() + 20
            while True:
                assert p.poll() is None, "exited %s: %s" % (p.returncode, stderr())
                try:
                    m = scrape()
                    if pred(m):
                        return m
                except OSError:
                    pass
                assert time.monotonic() < deadline, "%s: %s" % (what, stderr())
                time.sleep(0.1)

        errors = ("maillog_state_write_errors_total", frozenset())
        try:
            first = once(log)
            wait(lambda m: counted(m) == first, "first lines never counted")
            # The daemon's tmpfs, seen from outside its mount namespace.
            small = "/proc/%d/root%s" % (p.pid, sdir)
            with open(os.path.join(small, "fill"), "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
            write_lines(log, n, 50)
            m = wait(lambda m: m[errors] >= 3, "no write errors counted")
            assert counted(m) == first, "published what no snapshot holds"
            err = stderr()
            assert err.count("/metrics keeps showing the last snapshot written") == 1, err
            assert "No space left on device" in err, err
            os.unlink(os.path.join(small, "fill"))
            m = wait(lambda m: counted(m) == once(log), "lines read meanwhile never counted")
            assert m[errors] >= 3, m[errors]
            assert "written again" in stderr(), stderr()
            # The count survives a restart: a copy of the state file (the
            # tmpfs goes with the daemon) makes a new run start from it.
            time.sleep(1.5)
            m = scrape()
            shutil.copy(os.path.join(small, "state"), os.path.join(tmp, "state.copy"))
            with Daemon("--maillog.path=" + log, "--maillog.start=beginning",
                        "--state.file=" + os.path.join(tmp, "state.copy")) as d2:
                m2 = d2.metrics()
                assert m2[errors] == m[errors], (m2[errors], m[errors])
                assert m2[("maillog_inotify_overflows_total", frozenset())] == 0
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise
        assert rc == 0, (rc, stderr())
    finally:
        shutil.rmtree(tmp)


cases = Cases()
for fn in (test_rotation_while_stopped, test_truncation_while_stopped,
           test_corrupt_state_starts_fresh, test_scrapes_cannot_force_writes,
           test_kill9_while_writing, test_stdin_keeps_serving,
           test_unwritable_state_stops_start, test_fresh_start_at_end_then_restart,
           test_scrape_never_ahead_of_disk, test_full_disk_keeps_counting):
    cases.run(fn)
cases.finish()
