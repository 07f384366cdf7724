#!/usr/bin/env python3
"""Debian's real logrotate, under load, against the real daemon.

Each case runs `logrotate -s STATE -f CONF` several times, with a private
state file and config, while a writer appends to the followed log the whole
time: a writer process that holds its fd and reopens on SIGHUP, as a syslog
daemon does, or the real rsyslogd fed through a private imuxsock socket.
The writer keeps its own record of every line it wrote (or sent), and that
record is the truth: rotate 0 and compression take the files away. The
lines are real Postfix log lines from tests/bench/gen_log.py.

Rotations follow one another as closely as the config allows: the next one
starts as soon as the daemon holds the file now at the path (a reader must
have opened a file before it can be rotated away from under it), and for
dateext once the clock is in a new second (logrotate refuses a second file
of the same name). Between some of them the writer first writes a few
thousand lines, counted, never timed.

At the end the writer writes one last line with a code no other line has
(550 5.7.26); once the daemon has counted it, has read as many lines as
were written and has closed every rotated file, its counts must equal
`--once` over the writer's record, sample for sample.

copytruncate is the exception logrotate documents: lines written between
the copy and the truncate are lost, and so are lines the daemon had not
read yet when the truncate came. There every count may be lower than the
truth, never higher; the loss is measured and printed, both what the daemon
missed and what no file holds (the copies are all kept to tell).

defect2 is a rotated-away file refilled in place, with real rotation: a
rename rotation by logrotate, then, while the daemon still drains
mail.log.1, an admin's by-hand copytruncate of that inode,
`cp mail.log mail.log.1 && : > mail.log`. The writer is paused for the cp
and the truncate (its lines would otherwise fall into copytruncate's
window) and the daemon may count nothing twice.

Run as `test_logrotate.py [CASE...]`; `--writer ...` is the writer process.
"""
import collections
import gzip
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_LOG = os.path.join(HERE, "..", "bench", "gen_log.py")

RATE = 40000          # lines/s: high, yet within what a sanitizer build reads
POOL_LINES = 20000    # distinct gen_log.py lines, written round and round
CATCH_UP = 90.0       # seconds: deadline for every wait on the daemon or rsyslogd
STATUS = "maillog_smtp_status_total"
# logrotate names a dateext file after time(2), which is this clock (the
# kernel's coarse one, up to a tick behind time.time()); Python has no name
# for it. Waiting on time.time() to pass the second logrotate last used
# let the next run, a few ms later, get that same second again.
CLOCK_REALTIME_COARSE = 5

# The writer's last line: Gmail's DMARC reject, a code gen_log.py never
# writes, so its count says the daemon has read the live file to its end.
SENTINEL = (
    "Nov 28 23:59:59 mx1 postfix/smtp[1010]: 7F3A2B1C0D: to=<john@gmail.com>, "
    "relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, delay=0.4, "
    "delays=0.1/0.01/0.2/0.1, dsn=5.7.26, status=bounced (host "
    "gmail-smtp-in.l.google.com[142.250.27.26] said: 550-5.7.26 Unauthenticated "
    "email from example.org is not accepted due to domain's 550-5.7.26 DMARC "
    "policy. 550 5.7.26 https://support.google.com/mail/answer/2451690 (in reply "
    "to end of DATA command))\n")
SENTINEL_KEY = ("550", "5.7.26")

# Debian 12's /etc/logrotate.d/rsyslog, mail.log's stanza, as shipped but
# for `weekly` (-f forces) and the postrotate: a HUP by PID, not systemctl.
DEBIAN = """\
	rotate 4
	missingok
	notifempty
	compress
	delaycompress
	sharedscripts
	postrotate
		kill -HUP {pid}
	endscript
"""
REOPEN = """\
	postrotate
		kill -HUP {pid}
	endscript
"""

# name: (stanza, rotations, lines written before each rotation, writer)
CASES = {
    "debian": (DEBIAN, 5, [30000, 0, 8000, 0, 0], "file"),
    "debian_rsyslogd": (DEBIAN, 4, [30000, 0, 8000, 0], "rsyslogd"),
    "create_dateext": ("\trotate 10\n\tcreate 0640\n\tdateext\n\tdateformat -%Y%m%d-%s\n"
                       + REOPEN, 4, [20000, 0, 0, 0], "file"),
    "copytruncate": ("\trotate 10\n\tcopytruncate\n", 6, [30000, 0, 8000, 0, 0, 0], "file"),
    "copytruncate_compress": ("\trotate 10\n\tcopytruncate\n\tcompress\n", 6,
                              [30000, 0, 8000, 0, 0, 0], "file"),
    "olddir": ("\trotate 3\n\tcreate 0640\n\tolddir {dir}/old\n" + REOPEN, 4,
               [20000, 0, 8000, 0], "file"),
    "rotate0": ("\trotate 0\n\tcreate 0640\n" + REOPEN, 5, [20000, 0, 8000, 0, 0], "file"),
    "defect2": (DEBIAN, 3, [30000, 2000, 2000], "file"),
}


# ---- the writer process ---------------------------------------------------

def writer_main(mode, target, record, pool_path):
    """Append pool lines round and round at RATE to target (mode "file": one
    write(2) per line on an O_APPEND fd, reopened on SIGHUP) or send them
    to the syslog socket target (mode "socket", as libc's syslog() does).
    Every line goes to the record right after it went out. Commands on
    stdin, one answer each on stdout: count, pause, resume, stop (which
    writes the sentinel last)."""
    with open(pool_path, "rb") as f:
        pool = f.read().splitlines(keepends=True)
    hup = []
    signal.signal(signal.SIGHUP, lambda *_: hup.append(1))
    fd = sock = None
    if mode == "file":
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def emit(line):
        if fd is not None:
            os.write(fd, line)
        else:
            # "Nov 28 00:00:01 mx1 tag: msg\n" -> "<22>Nov 28 00:00:01 tag: msg"
            sock.sendto(b"<22>" + line[:16] + line[20:-1], target)
        rec.write(line)

    rec = open(record, "wb")
    n = base = 0
    paused = False
    t0 = time.monotonic()
    inbuf = b""
    while True:
        if hup and fd is not None:
            hup.clear()
            os.close(fd)
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        if not paused:
            due = min(base + int((time.monotonic() - t0) * RATE), n + 2000)
            while n < due:
                emit(pool[n % len(pool)])
                n += 1
        r, _, _ = select.select([0], [], [], None if paused else 0.001)
        if not r:
            continue
        data = os.read(0, 4096)
        inbuf += data
        while b"\n" in inbuf or not data:
            cmd, _, inbuf = inbuf.partition(b"\n")
            cmd = cmd.strip().decode()
            if cmd == "pause":
                paused = True
            elif cmd == "resume":
                paused = False
                t0, base = time.monotonic(), n
            elif cmd in ("stop", ""):
                emit(SENTINEL.encode())
                n += 1
                rec.close()
                if fd is not None:
                    os.close(fd)
                print(n, flush=True)
                return 0
            rec.flush()
            print(n, flush=True)


class Writer:
    def __init__(self, mode, target, record, pool_path):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--writer", mode, target, record,
             pool_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self.proc.pid
        self.n = 0

    def cmd(self, c):
        self.proc.stdin.write((c + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the writer died (exit %s)" % self.proc.wait())
        self.n = int(line)
        return self.n

    def stop(self):
        n = self.cmd("stop")
        self.proc.wait(timeout=CATCH_UP)
        return n

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- rsyslogd ---------------------------------------------------------------

class Rsyslogd:
    """The real rsyslogd, private: its own config, work directory, pid file
    and imuxsock socket (not /dev/log, no kernel log), mail.* to one file in
    the traditional format, rate limiting off. Stopped by PID."""

    def __init__(self, d, log):
        self.sock = os.path.join(d, "log.sock")
        self.pidfile = os.path.join(d, "rsyslogd.pid")
        work = os.path.join(d, "rsyslog-work")
        os.mkdir(work)
        conf = os.path.join(d, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write('global(workDirectory="%s" localHostname="mx1")\n'
                    'module(load="imuxsock" SysSock.Use="off")\n'
                    'input(type="imuxsock" Socket="%s" RateLimit.Interval="0")\n'
                    'mail.* action(type="omfile" file="%s" '
                    'template="RSYSLOG_TraditionalFileFormat")\n' % (work, self.sock, log))
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([rsyslogd_bin(), "-n", "-f", conf, "-i", self.pidfile],
                                     stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        self.pid = self.proc.pid
        wait_until(lambda: os.path.exists(self.sock) and os.path.exists(self.pidfile),
                   "rsyslogd to create its socket", check=self.alive)

    def alive(self):
        if self.proc.poll() is not None:
            self.err.seek(0)
            raise AssertionError("rsyslogd exited %s: %s" % (
                self.proc.returncode, self.err.read().decode("utf-8", "replace")))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def rsyslogd_bin():
    return shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def logrotate_bin():
    return shutil.which("logrotate") or "/usr/sbin/logrotate"


# ---- helpers ----------------------------------------------------------------

def wait_until(cond, what, timeout=CATCH_UP, check=None, every=0.01):
    deadline = time.monotonic() + timeout
    while not cond():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(every)


def held_files(pid):
    """{(dev, ino): target} of the regular files process pid has open."""
    out = {}
    fds = "/proc/%d/fd" % pid
    for name in os.listdir(fds):
        p = os.path.join(fds, name)
        try:
            st = os.stat(p)
            target = os.readlink(p)
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o100000:
            out[(st.st_dev, st.st_ino)] = target
    return out


def holds_path(dmn, path):
    """Does the daemon hold the file now at path, and has it content (so
    notifempty does not skip it)?"""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return st.st_size > 0 and (st.st_dev, st.st_ino) in held_files(dmn.proc.pid)


def rotated_held(dmn, d, path):
    """The files under d the daemon still holds, the one at path aside."""
    try:
        st = os.stat(path)
        cur = (st.st_dev, st.st_ino)
    except FileNotFoundError:
        cur = None
    return [t for k, t in held_files(dmn.proc.pid).items()
            if k != cur and t.startswith(d + "/")]


def samples(metrics, name):
    return {labels: int(v) for (n, labels), v in metrics.items() if n == name}


def lines_read(metrics):
    return int(sum(samples(metrics, "maillog_lines_read_total").values()))


def count_of(metrics, key):
    return sum(v for labels, v in samples(metrics, STATUS).items()
               if (dict(labels).get("code"), dict(labels).get("enhanced")) == key)


def once_counts(record):
    rc, out, err = harness.run("--once", "--maillog.path=" + record, timeout=300)
    assert rc == 0, (rc, err)
    m = harness.parse_metrics(out)
    return samples(m, STATUS), lines_read(m)


def file_lines(d, base):
    """Complete lines in every file under d (recursively) whose name starts
    with base, gzip or plain, as bytes."""
    out = []
    for root, _, names in os.walk(d):
        for name in names:
            if not name.startswith(base):
                continue
            p = os.path.join(root, name)
            opener = gzip.open if name.endswith(".gz") else open
            with opener(p, "rb") as f:
                data = f.read()
            out.extend(data.split(b"\n")[:-1])
    return out


def logrotate(state, conf):
    p = subprocess.run([logrotate_bin(), "-v", "-s", state, "-f", conf],
                       capture_output=True, timeout=60)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert p.returncode == 0, "logrotate exited %d: %s" % (p.returncode, text[-2000:])
    assert re.search(r"^(renaming|copying) ", text, re.M), \
        "logrotate did not rotate: " + text[-2000:]
    return text


def make_pool(path):
    out = subprocess.run([sys.executable, GEN_LOG, "--lines", str(POOL_LINES), "--seed", "15"],
                         capture_output=True, check=True, timeout=120).stdout
    assert b"5.7.26" not in out
    with open(path, "wb") as f:
        f.write(out)


# ---- one case ---------------------------------------------------------------

def run_case(name, pool):
    stanza, rotations, before, mode = CASES[name]
    copytruncate = "copytruncate" in stanza
    d = tempfile.mkdtemp(prefix="mlx-logrotate-%s." % name)
    log = os.path.join(d, "mail.log")
    record = os.path.join(d, "record")
    state = os.path.join(d, "logrotate.state")
    conf = os.path.join(d, "logrotate.conf")
    begin = time.monotonic()
    writer = rsys = None
    try:
        if "olddir" in stanza:
            os.mkdir(os.path.join(d, "old"))
        if mode == "file":
            open(log, "w").close()
        dmn = harness.Daemon("--maillog.path=" + log, "--maillog.start=beginning")
        try:
            if mode == "rsyslogd":
                rsys = Rsyslogd(d, log)
                writer = Writer("socket", rsys.sock, record, pool)
                hup_pid = rsys.pid
            else:
                writer = Writer("file", log, record, pool)
                hup_pid = writer.pid
            wrote_from = time.monotonic()
            with open(conf, "w") as f:
                f.write("%s {\n%s}\n" % (log, stanza.format(pid=hup_pid, dir=d)))
            os.chmod(conf, 0o644)

            at_risk = 0          # copytruncate: lines the daemon could lose
            last_second = 0
            refilled = 0
            for k in range(rotations):
                mark = writer.cmd("count")
                wait_until(lambda: writer.cmd("count") >= mark + before[k],
                           "the writer to write %d lines" % before[k])
                wait_until(lambda: holds_path(dmn, log), "the daemon to open " + log)
                if "dateext" in stanza:
                    wait_until(lambda: int(time.clock_gettime(CLOCK_REALTIME_COARSE)) >
                               last_second, "the next second")
                if copytruncate:
                    # Caught up to here; what the rotation can cost is at
                    # most what is written from now until it is over.
                    c0 = writer.cmd("count")
                    wait_until(lambda: lines_read(dmn.metrics()) >= c0,
                               "the daemon to read %d lines" % c0, every=0.02)
                text = logrotate(state, conf)
                if "dateext" in stanza:
                    m = re.search(r"dateext suffix '-\d{8}-(\d+)'", text)
                    last_second = int(m.group(1))
                if copytruncate:
                    at_risk += writer.cmd("count") - c0
                if name == "defect2":
                    refilled += refill_rotated(dmn, writer, d, log)
            wait_until(lambda: holds_path(dmn, log), "the daemon to open " + log)
            mark = writer.cmd("count")
            wait_until(lambda: writer.cmd("count") >= mark + 5000, "the writer")
            written = writer.stop()
            wrote_s = time.monotonic() - wrote_from

            if rsys is not None:
                # Every line sent is in rsyslogd's files, exactly once.
                # Both start "Mmm dd hh:mm:ss mx1 " (20 bytes): compare the rest.
                sent = collections.Counter(ln[20:] for ln in
                                           open(record, "rb").read().split(b"\n")[:-1])

                def arrived():
                    rsys.alive()
                    got = collections.Counter(ln[20:] for ln in file_lines(d, "mail.log"))
                    return got if sum(got.values()) >= written else None
                wait_until(lambda: arrived() is not None, "rsyslogd to write every line",
                           every=0.2)
                got = arrived()
                assert got == sent, "rsyslogd's files differ from what was sent: %d lines " \
                    "missing, %d extra" % (sum((sent - got).values()), sum((got - sent).values()))

            def settled():
                m = dmn.metrics()
                if count_of(m, SENTINEL_KEY) < 1:
                    return None
                if not copytruncate and (lines_read(m) < written or
                                         rotated_held(dmn, d, log)):
                    return None
                return m
            wait_until(lambda: settled() is not None, "the daemon to catch up", every=0.05)
            m = settled()
            assert dmn.proc.poll() is None, "daemon died: " + dmn.stderr()[-2000:]
            got, got_lines = samples(m, STATUS), lines_read(m)
            stderr = dmn.stderr()
        finally:
            dmn.stop()
        want, want_lines = once_counts(record)
        assert want_lines == written, (want_lines, written)
        summary = "%d lines written (%.0f/s), %d rotations" % (
            written, written / wrote_s, rotations)
        if copytruncate:
            over = {k: (got.get(k, 0), v) for k, v in want.items() if got.get(k, 0) > v}
            extra = set(got) - set(want)
            assert not over and not extra, "counted more than written: %s %s" % (over, extra)
            lost = want_lines - got_lines
            in_files = len(file_lines(d, "mail.log"))
            window = written - in_files
            assert 0 <= lost <= at_risk, "lost %d lines, more than the %d written from the " \
                "moment the daemon had caught up until logrotate was done" % (lost, at_risk)
            summary += ("; the daemon missed %d lines (%.1f per rotation; at most %d were "
                        "at risk); %d lines (%.1f per rotation) fell between copy and "
                        "truncate and are in no file; statuses counted %d of %d" % (
                            lost, lost / rotations, at_risk, window, window / rotations,
                            sum(got.values()), sum(want.values())))
        else:
            assert got_lines == want_lines, "lines read %d, written %d" % (got_lines, want_lines)
            if got != want:
                diff = ["%s: want %d got %d" % (dict(k), want.get(k, 0), got.get(k, 0))
                        for k in set(got) | set(want) if got.get(k, 0) != want.get(k, 0)]
                raise AssertionError("counts differ from --once over the record: "
                                     + "; ".join(sorted(diff)[:10]))
            summary += "; %d statuses, equal to --once" % sum(want.values())
        if name == "defect2":
            seen = stderr.count("no longer holds this log")
            assert seen >= 1, "of %d rotated files refilled while the daemon held them, " \
                "it saw none: %s" % (refilled, stderr[-2000:])
            summary += "; %d rotated files refilled by hand while drained, %d seen and " \
                "left" % (refilled, seen)
        return summary + "; %.1f s" % (time.monotonic() - begin)
    finally:
        if writer is not None:
            writer.kill()
        if rsys is not None:
            rsys.stop()
        shutil.rmtree(d, ignore_errors=True)


def refill_rotated(dmn, writer, d, log):
    """`cp mail.log mail.log.1 && : > mail.log` while the daemon still
    drains mail.log.1, with the writer paused (nothing may fall into the
    copytruncate window) and the daemon caught up (nothing unread is
    truncated away). Returns 1 if the daemon held mail.log.1 then."""
    old = log + ".1"
    wait_until(lambda: holds_path(dmn, log), "the daemon to open " + log)
    n = writer.cmd("pause")
    try:
        wait_until(lambda: lines_read(dmn.metrics()) >= n, "the daemon to read %d lines" % n,
                   every=0.02)
        held = holds_path(dmn, old)
        subprocess.run(["sh", "-c", 'cp "$1" "$2" && : > "$1"', "sh", log, old],
                       check=True, timeout=60)
    finally:
        writer.cmd("resume")
    return 1 if held else 0


# ---- main -------------------------------------------------------------------

def main(argv):
    for tool in (logrotate_bin(), rsyslogd_bin()):
        assert os.access(tool, os.X_OK), "%s is missing (tests/run.sh installs it)" % tool
    d = tempfile.mkdtemp(prefix="mlx-logrotate-pool.")
    pool = os.path.join(d, "pool.log")
    make_pool(pool)
    cases = harness.Cases()
    try:
        for name in argv or list(CASES):
            def case(name=name):
                print("     %s: %s" % (name, run_case(name, pool)))
            case.__name__ = name
            cases.run(case)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    cases.finish()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        sys.exit(writer_main(*sys.argv[2:]))
    import harness
    harness.require_binary()
    main(sys.argv[1:])
