"""A glob --maillog.path on a central log server's layout: every count
checked against --once over exactly the lines written, never against a
prediction of timing (each wait is on an observable condition with a
generous deadline).

Cases: host directories appearing while running; a file appearing later
read from its start; one file reached by a symlink and by its rotated
name, counted once; rename rotation by the real logrotate under a glob
that also matches the rotated names, with a writer; the --maillog.max-files
cap (error naming the pattern, maillog_glob_files_left_out); a restart
with --state.file and several files.
"""
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STATUS = "maillog_smtp_status_total"
DEADLINE = 60.0


class Lines:
    """Writes numbered Postfix lines to files and keeps every one in a
    record, which --once then counts."""

    def __init__(self, tmp):
        self.n = 0
        os.makedirs(os.path.join(tmp, "record"))
        self.record = os.path.join(tmp, "record", "all")
        open(self.record, "w").close()

    def write(self, path, count, host="mx"):
        out = []
        for _ in range(count):
            self.n += 1
            code, enh = harness.code_for(self.n)
            out.append(harness.postfix_line(self.n, code, enh, host=host) + "\n")
        with open(path, "a") as f:
            f.write("".join(out))
        with open(self.record, "a") as f:
            f.write("".join(out))


def counts(m):
    return {k: v for k, v in m.items() if k[0] == STATUS}


def once(record):
    rc, out, err = harness.run("--once", "--maillog.path=" + record)
    assert rc == 0, (rc, err)
    return counts(harness.parse_metrics(out))


def matches(pattern, path):
    """glob(7) on each path component, as the exporter matches."""
    pc, fc = pattern.split("/"), path.split("/")
    return len(pc) == len(fc) and all(fnmatch.fnmatchcase(f, p) for p, f in zip(pc, fc))


def per_file(m, name="maillog_lines_read_total"):
    """{path: value} of a per-path family."""
    out = {}
    for (n, labels), v in m.items():
        if n == name:
            out[dict(labels)["path"]] = v
    return out


def lines_read(m, pattern):
    """Lines read by the files of a glob now followed: the sum of their
    series (a glob has no series of its own in the per-path families)."""
    return sum(v for p, v in per_file(m).items() if matches(pattern, p))


def wait_equal(dmn, lines, pattern, exact=True):
    """Wait until the daemon's counts equal --once over the record. With
    exact, the glob's files' series must also add up to every line
    written: true while no file of it has gone away (a file gone for good
    takes its series with it)."""
    want = once(lines.record)
    m = dmn.wait_for(lambda m: counts(m) == want and
                     (not exact or lines_read(m, pattern) >= lines.n), timeout=DEADLINE)
    assert counts(m) == want, (counts(m), want, dmn.stderr()[-3000:])
    if exact:
        assert lines_read(m, pattern) == lines.n, (per_file(m), lines.n)
    return m


def settle(dmn, pattern, lines, exact=True):
    """Give the daemon time to read anything twice (two reconciles and a
    rotate_wait), then check that it did not."""
    want = once(lines.record)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        m = dmn.metrics()
        assert counts(m) == want, (counts(m), want)
        if exact:
            assert lines_read(m, pattern) == lines.n, (lines_read(m, pattern), lines.n)
        time.sleep(0.2)


def test_hosts_appear():
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        hosts = os.path.join(tmp, "hosts")
        os.makedirs(os.path.join(hosts, "a"))
        os.makedirs(os.path.join(hosts, "b"))
        lines = Lines(tmp)
        lines.write(os.path.join(hosts, "a", "mail.log"), 30, "a")
        pattern = os.path.join(hosts, "*", "mail.log")
        with harness.Daemon("--maillog.path=" + pattern, "--maillog.start=beginning") as d:
            wait_equal(d, lines, pattern)
            # b exists but has no mail.log yet; c does not exist at all.
            lines.write(os.path.join(hosts, "b", "mail.log"), 20, "b")
            os.makedirs(os.path.join(hosts, "c"))
            lines.write(os.path.join(hosts, "c", "mail.log"), 25, "c")
            # A name that does not match is not read.
            with open(os.path.join(hosts, "c", "other.log"), "w") as f:
                f.write(harness.postfix_line(99999) + "\n")
            for h in "abc":
                lines.write(os.path.join(hosts, h, "mail.log"), 10, h)
            m = wait_equal(d, lines, pattern)
            assert harness.value(m, "maillog_glob_files", path=pattern) == 3, m
            assert harness.value(m, "maillog_glob_files_left_out", path=pattern) == 0
            settle(d, pattern, lines)
    finally:
        shutil.rmtree(tmp)


def test_late_file_read_from_start():
    """--maillog.start=end skips what files hold at start; a file that
    appears later is read whole."""
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        old = os.path.join(tmp, "old.log")
        with open(old, "w") as f:
            for i in range(40):
                f.write(harness.postfix_line(100000 + i) + "\n")
        lines = Lines(tmp)
        pattern = os.path.join(tmp, "*.log")
        with harness.Daemon("--maillog.path=" + pattern) as d:
            d.wait_for(lambda m: harness.value(m, "maillog_glob_files", path=pattern) == 1)
            # Written in one go before the exporter can see the file.
            new = os.path.join(tmp, "new.part")
            lines.write(new, 50)
            os.rename(new, os.path.join(tmp, "new.log"))
            lines.write(old, 5)
            wait_equal(d, lines, pattern)
            settle(d, pattern, lines)
    finally:
        shutil.rmtree(tmp)


def test_symlink_and_rotated_name_counted_once():
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        log = os.path.join(tmp, "mail.log")
        lines = Lines(tmp)
        lines.write(log, 20)
        os.symlink(log, os.path.join(tmp, "mail.log.link"))
        pattern = os.path.join(tmp, "mail.log*")
        with harness.Daemon("--maillog.path=" + pattern, "--maillog.start=beginning") as d:
            m = wait_equal(d, lines, pattern)
            assert harness.value(m, "maillog_glob_files", path=pattern) == 1, m
            # The symlink reaches a file mail.log follows: no series of its own.
            assert per_file(m) == {log: 20}, per_file(m)
            for rot in range(3):
                lines.write(log, 15)
                # Rename rotation: mail.log.1 -> .2, mail.log -> .1, a new
                # mail.log; every name matches the glob.
                for k in range(rot, 0, -1):
                    os.rename("%s.%d" % (log, k), "%s.%d" % (log, k + 1))
                os.rename(log, log + ".1")
                lines.write(log + ".1", 5)   # the writer before it reopens
                lines.write(log, 12)
                wait_equal(d, lines, pattern, exact=False)
            settle(d, pattern, lines, exact=False)
            lines.write(log + ".2", 3)       # a rotated file still followed
            wait_equal(d, lines, pattern, exact=False)
    finally:
        shutil.rmtree(tmp)


def test_logrotate_under_glob():
    """The real logrotate renames each host's mail.log while a writer
    appends; the glob matches the rotated names too."""
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.access(logrotate, os.X_OK):
        print("SKIP logrotate not installed")
        return
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        hosts = os.path.join(tmp, "hosts")
        lines = Lines(tmp)
        for h in ("a", "b"):
            os.makedirs(os.path.join(hosts, h))
            lines.write(os.path.join(hosts, h, "mail.log"), 10, h)
        conf = os.path.join(tmp, "logrotate.conf")
        with open(conf, "w") as f:
            f.write("%s/*/mail.log {\n  rotate 3\n  create\n  missingok\n  nocompress\n}\n"
                    % hosts)
        state = os.path.join(tmp, "logrotate.state")
        pattern = os.path.join(hosts, "*", "mail.log*")
        with harness.Daemon("--maillog.path=" + pattern, "--maillog.start=beginning") as d:
            wait_equal(d, lines, pattern)
            for _ in range(3):
                for h in ("a", "b"):
                    lines.write(os.path.join(hosts, h, "mail.log"), 40, h)
                p = subprocess.run([logrotate, "-v", "-s", state, "-f", conf],
                                   capture_output=True, timeout=60)
                text = (p.stdout + p.stderr).decode("utf-8", "replace")
                assert p.returncode == 0, text
                assert "renaming" in text, text
                # The writer still has the old file open for a moment.
                for h in ("a", "b"):
                    lines.write(os.path.join(hosts, h, "mail.log.1"), 3, h)
                    lines.write(os.path.join(hosts, h, "mail.log"), 20, h)
                wait_equal(d, lines, pattern, exact=False)
            settle(d, pattern, lines, exact=False)
            # Past rotate_wait the drained mail.log.1 files are followed on
            # under their rotated names: a new host makes the pattern be
            # globbed again, which must not read them again from 0. (The
            # sleep only lets rotate_wait pass so a wrong answer shows; the
            # right one does not depend on it.)
            time.sleep(6)
            os.makedirs(os.path.join(hosts, "z"))
            lines.write(os.path.join(hosts, "z", "mail.log"), 7, "z")
            for h in ("a", "b"):
                lines.write(os.path.join(hosts, h, "mail.log.1"), 2, h)
            wait_equal(d, lines, pattern, exact=False)
            settle(d, pattern, lines, exact=False)
    finally:
        shutil.rmtree(tmp)


def test_per_file_series():
    """Each file a glob follows is a series of the per-path families,
    with its own path and exact counts, at most --maillog.max-files of
    them; the pattern has none there. A file gone for good takes its series
    with it; the others go on unchanged. The status page lists the files
    under the glob."""
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        hosts = os.path.join(tmp, "hosts")
        lines = Lines(tmp)
        logs = {}
        for h, n in (("a", 11), ("b", 22), ("c", 33)):
            os.makedirs(os.path.join(hosts, h))
            logs[h] = os.path.join(hosts, h, "mail.log")
            lines.write(logs[h], n, h)
        pattern = os.path.join(hosts, "*", "mail.log")
        with harness.Daemon("--maillog.path=" + pattern, "--maillog.start=beginning",
                            "--maillog.max-files=2") as d:
            want = {logs["a"]: 11, logs["b"]: 22}
            m = d.wait_for(lambda m: per_file(m) == want, timeout=DEADLINE)
            assert per_file(m) == want, (per_file(m), d.stderr()[-2000:])
            size = {p: os.path.getsize(p) for p in want}
            assert per_file(m, "maillog_bytes_read_total") == size, m
            for p in want:
                assert harness.value(m, "maillog_source_state", path=p,
                                     state="following") == 1, m
                assert harness.value(m, "maillog_last_line_read_timestamp_seconds",
                                     path=p) is not None, m
            for name in ("maillog_lines_read_total", "maillog_overlong_lines_total",
                         "maillog_source_state", "maillog_rotations_total"):
                assert not any(k[0] == name and ("path", pattern) in k[1] for k in m), name
            assert harness.value(m, "maillog_glob_files", path=pattern) == 2, m
            assert harness.value(m, "maillog_glob_files_left_out", path=pattern) == 1, m
            status, _, body = d.get("/")
            page = body.decode("utf-8")
            assert status == 200 and "glob: 2 files" in page, page[:3000]
            assert logs["a"] in page and logs["b"] in page and logs["c"] not in page

            # a goes away: drained, then (after rotate_wait) gone for good,
            # its series too; c, left out so far, is followed from its start.
            lines.write(logs["b"], 4, "b")
            os.unlink(logs["a"])
            want = {logs["b"]: 26, logs["c"]: 33}
            m = d.wait_for(lambda m: per_file(m) == want, timeout=DEADLINE)
            assert per_file(m) == want, (per_file(m), d.stderr()[-2000:])
            assert harness.value(m, "maillog_glob_files_left_out", path=pattern) == 0, m
            assert counts(m) == once(lines.record)
            # a comes back: a new file, a new series from 0, not 11 + 5.
            # The cap is full (b and c), so it waits until one goes.
            lines.write(logs["a"], 5, "a")
            os.unlink(logs["c"])
            want = {logs["b"]: 26, logs["a"]: 5}
            m = d.wait_for(lambda m: per_file(m) == want, timeout=DEADLINE)
            assert per_file(m) == want, (per_file(m), d.stderr()[-2000:])
    finally:
        shutil.rmtree(tmp)


def test_cap():
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        lines = Lines(tmp)
        for i in range(3):
            lines.write(os.path.join(tmp, "h%d.log" % i), 5)
        pattern = os.path.join(tmp, "h*.log")
        with harness.Daemon("--maillog.path=" + pattern, "--maillog.start=beginning",
                            "--maillog.max-files=2") as d:
            m = d.wait_for(lambda m: lines_read(m, pattern) >= 10)
            assert lines_read(m, pattern) == 10, m
            # A series per file followed, bounded by the cap.
            h = [os.path.join(tmp, "h%d.log" % i) for i in range(3)]
            assert per_file(m) == {h[0]: 5, h[1]: 5}, per_file(m)
            assert harness.value(m, "maillog_glob_files", path=pattern) == 2, m
            assert harness.value(m, "maillog_glob_files_left_out", path=pattern) == 1, m
            err = d.stderr()
            assert "level=error" in err and pattern in err and \
                "--maillog.max-files=2" in err, err
            # One goes away: its series with it, and the file left out is
            # followed then, from its start.
            os.unlink(h[0])
            m = d.wait_for(lambda m: per_file(m) == {h[1]: 5, h[2]: 5})
            assert per_file(m) == {h[1]: 5, h[2]: 5}, (per_file(m), d.stderr())
            m = d.wait_for(lambda m: harness.value(m, "maillog_glob_files_left_out",
                                                   path=pattern) == 0)
            assert harness.value(m, "maillog_glob_files_left_out", path=pattern) == 0
        # Without a glob the families are not there.
        with harness.Daemon("--maillog.path=" + os.path.join(tmp, "h1.log")) as d:
            assert not any(k[0].startswith("maillog_glob_") for k in d.metrics())
    finally:
        shutil.rmtree(tmp)


def test_state_resume():
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        hosts = os.path.join(tmp, "hosts")
        lines = Lines(tmp)
        for h in ("a", "b", "c"):
            os.makedirs(os.path.join(hosts, h))
            lines.write(os.path.join(hosts, h, "mail.log"), 10 + len(h), h)
        pattern = os.path.join(hosts, "*", "mail.log")
        state = os.path.join(tmp, "state")
        args = ("--maillog.path=" + pattern, "--state.file=" + state,
                "--maillog.start=beginning")
        with harness.Daemon(*args) as d:
            wait_equal(d, lines, pattern)
        # While stopped: more lines in each, a new host, a rotated one.
        for h in ("a", "b", "c"):
            lines.write(os.path.join(hosts, h, "mail.log"), 7, h)
        os.makedirs(os.path.join(hosts, "d"))
        lines.write(os.path.join(hosts, "d", "mail.log"), 9, "d")
        os.rename(os.path.join(hosts, "b", "mail.log"), os.path.join(hosts, "b", "mail.log.1"))
        lines.write(os.path.join(hosts, "b", "mail.log.1"), 4, "b")
        lines.write(os.path.join(hosts, "b", "mail.log"), 6, "b")
        with harness.Daemon(*args) as d:
            m = wait_equal(d, lines, pattern, exact=False)
            # The files' series are not in the state file: they count the
            # lines read since this start (docs/metrics.md).
            f = per_file(m)
            for h, n in (("a", 7), ("c", 7), ("d", 9)):
                assert f[os.path.join(hosts, h, "mail.log")] == n, f
            settle(d, pattern, lines, exact=False)
    finally:
        shutil.rmtree(tmp)


def test_state_format_2():
    """A state file of format 2 (written by the release before, for 30 lines
    of this test's own generator at /tmp/mlx-v2-fixture/mail.log; see
    tests/data/state/README) is still read: its counters go on."""
    tmp = tempfile.mkdtemp(prefix="mlx-glob-")
    try:
        state = os.path.join(tmp, "state")
        shutil.copy(os.path.join(os.environ["TESTS_DIR"], "data", "state",
                                 "v2-30-lines.state"), state)
        os.chmod(state, 0o600)
        lines = Lines(tmp)
        for n in range(1, 31):     # the fixture's lines, into the record only
            code, enh = harness.code_for(n)
            with open(lines.record, "a") as f:
                f.write(harness.postfix_line(n, code, enh) + "\n")
        lines.n = 30
        log = os.path.join(tmp, "mail.log")
        lines.write(log, 5)
        with harness.Daemon("--maillog.path=" + log, "--maillog.start=beginning",
                            "--state.file=" + state) as d:
            want = once(lines.record)
            m = d.wait_for(lambda m: counts(m) == want, timeout=DEADLINE)
            assert counts(m) == want, (counts(m), want, d.stderr())
            assert "resuming from" in d.stderr(), d.stderr()
        assert open(state, "rb").read()[8] == 3
    finally:
        shutil.rmtree(tmp)


def main():
    harness.require_binary()
    cases = harness.Cases()
    for fn in (test_hosts_appear, test_late_file_read_from_start, test_per_file_series,
               test_symlink_and_rotated_name_counted_once, test_logrotate_under_glob,
               test_cap, test_state_resume, test_state_format_2):
        cases.run(fn)
    cases.finish()


if __name__ == "__main__":
    main()
