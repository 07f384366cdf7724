"""End-to-end harness: a real MTA from Debian's packages, run in a private
namespace, driven with swaks, relaying to a scripted sink; then the
exporter reads the log the MTA wrote and every count is compared with what
the sink and swaks recorded.

Safety, because a real MTA is a live mail server:
- the MTA is never installed: `apt-get download` + `dpkg -x` into a cache
  folder ($E2E_CACHE, else $TMPDIR/maillog-e2e-cache);
- it runs under `unshare -m -n -u -p --fork --kill-child`: a private mount
  namespace (/etc, /usr, /var are overlays whose upper layers live on a
  tmpfs; /var/log, /run, /dev are fresh tmpfs), a network namespace with
  only `lo` up, its own hostname, and a PID namespace, so nothing it starts
  can outlive the test (the kernel kills the namespace with its init);
- every address is 127.0.0.1 and every domain is reserved (.test, .invalid).
MTA processes are still stopped by PID, and the test fails if one had to
be killed.

An MTA that logs through syslog (spec.LOG_VIA_SYSLOG) logs through the real
rsyslogd and syslog-ng, run in the namespace too (logpipe.py); every file
they write is compared with the MTA's traditional file (compare_cells).

A test module defines an MTA spec (see test_postfix.py) and calls main().
"""
import collections
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sink as sinkmod  # noqa: E402
import logpipe  # noqa: E402

SKIP = 77
SINK_PORT = 2525
MTA_HOST = "mail.e2e.test"
SENDER = "sender@client.test"
# Outbound: one message per recipient, so each sink transaction is one
# recipient's attempt. The local part picks the sink's reply (sink.py).
OUTBOUND = ["ok", "ok", "tempfail", "busy", "full", "unknown", "quota",
            "badname", "policy", "noenh", "multi", "drop", "datatemp"]
# Inbound: refused by the MTA itself (each spec configures these).
REJECT_RCPT = "rejectme@blocked.test"       # permanent reject at RCPT
TEMP_RCPT = "tempme@blocked.test"           # temporary reject at RCPT
REJECT_SENDER = "spammer@bad.test"          # reject of the sender
REJECT_CLIENT = "127.0.0.2"                 # client address refused


class Report:
    """One line per check; ends with 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s%s" % (name, (": " + detail) if detail else ""))
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, detail))
        sys.stdout.flush()

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.stdout.flush()
        sys.exit(1 if self.failed else 0)


def skip(reason):
    print("SKIP: " + reason)
    sys.stdout.flush()
    sys.exit(SKIP)


def log(msg):
    print("# " + msg)
    sys.stdout.flush()


# ---------------------------------------------------------------- packages

def fetch(name, packages):
    """Download and unpack `packages` once into the cache; return the
    unpacked root. Never installs anything."""
    cache = os.environ.get("E2E_CACHE") or os.path.join(
        tempfile.gettempdir(), "maillog-e2e-cache")
    base = os.path.join(cache, name)
    root = os.path.join(base, "root")
    stamp = os.path.join(base, "stamp")
    want = " ".join(packages)
    os.makedirs(cache, exist_ok=True)
    # meson runs the e2e tests in parallel and several fetch the same
    # packages (syslog-ng, postfix twice): one fetch at a time.
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(stamp) and open(stamp).read() == want:
            return root
        return fetch_locked(base, root, stamp, packages, want)


def fetch_locked(base, root, stamp, packages, want):
    debs = os.path.join(base, "debs")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(debs)
    p = subprocess.run(["apt-get", "download", "-q"] + packages, cwd=debs,
                       capture_output=True, text=True, timeout=180)
    got = sorted(f for f in os.listdir(debs) if f.endswith(".deb"))
    if p.returncode != 0 or len(got) != len(packages):
        skip("apt-get download %s failed (exit %d): %s" % (
            want, p.returncode, (p.stderr or p.stdout).strip()[-400:]))
    tmp = root + ".tmp"
    os.makedirs(tmp)
    for deb in got:
        subprocess.run(["dpkg", "-x", os.path.join(debs, deb), tmp], check=True)
    os.rename(tmp, root)
    with open(stamp, "w") as f:
        f.write(want)
    log("unpacked " + ", ".join(got))
    return root


# --------------------------------------------------------------- namespace

def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, **kw)


def overlay(target, lowers, scratch, name):
    up = os.path.join(scratch, name + ".up")
    wk = os.path.join(scratch, name + ".wk")
    os.makedirs(up)
    os.makedirs(wk)
    lowers = [d for d in lowers if os.path.isdir(d)]
    sh("mount", "-t", "overlay", "overlay", "-o",
       "lowerdir=%s,upperdir=%s,workdir=%s" % (":".join(lowers), up, wk), target)


def lo_up():
    """ip link set lo up, with an ioctl so iproute2 is not needed."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


def private_dev(scratch):
    """A fresh /dev with the usual nodes bound from the real one, so the
    syslog socket at /dev/log exists only in this namespace."""
    old = os.path.join(scratch, "olddev")
    os.makedirs(old)
    sh("mount", "--bind", "/dev", old)
    sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/dev")
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        src = os.path.join(old, node)
        if os.path.exists(src):
            open("/dev/" + node, "w").close()
            sh("mount", "--bind", src, "/dev/" + node)
    os.makedirs("/dev/shm")
    sh("mount", "-t", "tmpfs", "tmpfs", "/dev/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, "/dev/" + name)
    sh("umount", "-l", old)


def fresh_dir(path, unpacked):
    """A tmpfs at `path` holding only what the package ships there: the
    host may have that MTA's directories too (installed, or left over),
    with its own owners, and none of that may leak in."""
    os.makedirs(path, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", path)
    src = unpacked + path
    if os.path.isdir(src):
        sh("cp", "-a", src + "/.", path)


def enter(unpacked, scratch, outer_ns, private_dirs):
    """Inside the fresh namespaces: build the throwaway filesystem view and
    the loopback-only network. Refuses to touch anything unless this process
    really is in mount and network namespaces other than the caller's."""
    for kind in ("mnt", "net"):
        if os.readlink("/proc/self/ns/" + kind) == outer_ns[kind]:
            raise RuntimeError("not in a private %s namespace; refusing to mount" % kind)
    sh("mount", "--make-rprivate", "/")
    os.makedirs(scratch, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", scratch)
    for top in ("etc", "usr", "var"):
        overlay("/" + top, [os.path.join(unpacked, top), "/" + top], scratch, top)
    for d in ("/var/log", "/var/mail", "/run", "/var/tmp"):
        os.makedirs(d, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", d)
    os.chmod("/var/mail", 0o2775)
    for d in ["/var/spool"] + list(private_dirs):
        fresh_dir(d, unpacked)
    private_dev(scratch)
    lo_up()
    socket.sethostname(MTA_HOST)
    with open("/etc/hosts", "w") as f:
        f.write("127.0.0.1\tlocalhost %s mail\n" % MTA_HOST)
    with open("/etc/hostname", "w") as f:
        f.write(MTA_HOST + "\n")
    with open("/etc/mailname", "w") as f:
        f.write(MTA_HOST + "\n")
    with open("/etc/resolv.conf", "w") as f:
        f.write("nameserver 127.0.0.1\n")
    with open("/etc/nsswitch.conf", "w") as f:
        f.write("passwd: files\ngroup: files\nshadow: files\nhosts: files\n"
                "networks: files\nprotocols: files\nservices: files\n"
                "aliases: files\n")


def drop_entry(path, name):
    """Remove `name`'s line from a passwd-style file of the overlay /etc (the
    host may have its own user of that name, with other ids)."""
    if not os.path.exists(path):
        return
    lines = open(path).read().splitlines()
    keep = [line for line in lines if line.split(":")[0] != name]
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in keep))


def add_group(name, gid, members=()):
    drop_entry("/etc/group", name)
    drop_entry("/etc/gshadow", name)
    with open("/etc/group", "a") as f:
        f.write("%s:x:%d:%s\n" % (name, gid, ",".join(members)))


def add_user(name, uid, home="/nonexistent"):
    """A system user `name` with uid = gid = `uid` and its own group."""
    add_group(name, uid)
    drop_entry("/etc/passwd", name)
    drop_entry("/etc/shadow", name)
    with open("/etc/passwd", "a") as f:
        f.write("%s:x:%d:%d::%s:/usr/sbin/nologin\n" % (name, uid, uid, home))


# The syslog daemons' PIDs: they outlive the MTA's stop, to write its last
# lines, and are stopped after it.
KEEP_PIDS = set()


def other_pids():
    """PIDs in this PID namespace other than ours (we are its init) and the
    syslog daemons'."""
    me = os.getpid()
    return sorted(int(p) for p in os.listdir("/proc")
                  if p.isdigit() and int(p) != me and int(p) not in KEEP_PIDS)


def proc_name(pid):
    try:
        return open("/proc/%d/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def reap():
    """We are PID 1 here: collect exited daemons' zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_gone(timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        if not other_pids():
            return True
        time.sleep(0.1)
    return False


stop_child = logpipe.stop_child


def terminate(pid, timeout=20):
    """SIGTERM one daemon by PID and wait until it is gone (its children are
    its own business; wait_gone() checks that they went too)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def wait_port(port, timeout=20):
    """Connect until the MTA greets. Returns (greeted, connections): every
    connection that was accepted reached the MTA, which logs it as a session
    whether or not its greeting came in time, so the caller counts them all
    (a busy machine can make the first greeting late)."""
    deadline = time.monotonic() + timeout
    made = 0
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                made += 1
                s.settimeout(max(1, deadline - time.monotonic()))
                if s.recv(512):
                    return True, made
        except OSError:
            pass
        time.sleep(0.1)
    return False, made


# ----------------------------------------------------------------- swaks

REPLY_RE = re.compile(r"^<(?:\*\*|-)\s+(\d{3})([ -])(.*)$")


def swaks(to, sender=SENDER, client=None, port=25, timeout=30):
    """Send one message with swaks; return the list of server replies as
    (command, [lines]) where command is the last command swaks sent."""
    args = ["swaks", "--server", "127.0.0.1", "--port", str(port),
            "--from", sender, "--to", to, "--helo", "client.test",
            "--header", "Subject: e2e test to " + to,
            "--body", "maillog_exporter end-to-end test message\n",
            "--timeout", str(timeout)]
    if client:
        args += ["--local-interface", client]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 10)
    replies, cmd, cur = [], "CONNECT", []
    for line in p.stdout.splitlines():
        if line.startswith(" -> ") or line.startswith("~> "):
            cmd = line[4:].split(" ")[0].split(":")[0].upper()
            continue
        m = REPLY_RE.match(line)
        if not m:
            continue
        cur.append("%s%s%s" % m.groups())
        if m.group(2) == " ":
            replies.append((cmd, cur))
            cur = []
    return p.returncode, replies, p.stdout


# --------------------------------------------------------------- scenario

def inner(spec, unpacked, work, outer_ns):
    scratch = os.path.join(work, "ns")
    enter(unpacked, scratch, outer_ns, spec.PRIVATE_DIRS)
    spec.setup()
    # sessions: SMTP sessions swaks ran; probes: connections made only to
    # see the port listen (wait_port), which the MTA logs as sessions too:
    # as many as wait_port made, not one.
    truth = {"inbound": [], "errors": [], "sessions": 0, "probes": 0}
    pipeline = None
    if spec.LOG_VIA_SYSLOG:
        pipeline = logpipe.Pipeline(os.environ["E2E_SYSLOG_NG_ROOT"], truth["errors"],
                                    listener=getattr(spec, "SYSLOG_LISTENER", False))
        try:
            pipeline.start()
        finally:
            KEEP_PIDS.update(pipeline.pids())
    snk = sinkmod.Sink(SINK_PORT)
    try:
        log("starting " + spec.NAME)
        spec.start()
        greeted, probes = wait_port(25)
        truth["probes"] += probes
        if not greeted:
            truth["errors"].append("the MTA never greeted on 127.0.0.1:25")
        else:
            log("%s listens; sending with swaks" % spec.NAME)
            for local in OUTBOUND:
                truth["sessions"] += 1
                rc, replies, out = swaks(local + "@sink.test")
                if rc != 0:
                    truth["errors"].append("swaks to %s@sink.test exit %d:\n%s"
                                           % (local, rc, out[-1500:]))
            cases = [(REJECT_RCPT, SENDER, None), (TEMP_RCPT, SENDER, None),
                     ("ok@sink.test", REJECT_SENDER, None),
                     ("ok@sink.test", SENDER, REJECT_CLIENT)]
            for to, sender, client in cases:
                truth["sessions"] += 1
                rc, replies, out = swaks(to, sender=sender, client=client)
                bad = [(c, r) for c, r in replies if r[0][0] in "45"]
                if rc == 0 or not bad:
                    truth["errors"].append("swaks %s from %s via %s was not refused:\n%s"
                                           % (to, sender, client, out[-1500:]))
                for c, r in bad:
                    truth["inbound"].append({"command": c, "reply": r, "to": to,
                                             "from": sender, "client": client})
            # A spec may send mail of its own (other ports, other clients),
            # keeping what happened in truth.
            if hasattr(spec, "more_mail"):
                spec.more_mail(truth)
            # A spec may look at the MTA while mail is still queued; its
            # checks are reported with the others (outside the namespace).
            if hasattr(spec, "queued_checks"):
                truth["checks"] = spec.queued_checks()
            log("swaks done; waiting for the queue to drain")
            deadline = time.monotonic() + spec.SETTLE_TIMEOUT
            quiet_since = None
            while time.monotonic() < deadline:
                reap()
                n = len(snk.events)
                if spec.queue_empty():
                    if quiet_since is None or quiet_since[0] != n:
                        quiet_since = (n, time.monotonic())
                    elif time.monotonic() - quiet_since[1] > 3:
                        break
                else:
                    quiet_since = None
                time.sleep(0.5)
            else:
                truth["errors"].append("queue not empty after %ds" % spec.SETTLE_TIMEOUT)
    finally:
        spec.stop()
        if not wait_gone(30):
            left = other_pids()
            truth["errors"].append("processes left after stop: " +
                                   "; ".join("%d %s" % (p, proc_name(p)) for p in left))
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_gone(5)
        snk.stop()
        ref = spec.LOG_PATH
        if pipeline:
            truth["cells"] = pipeline.finish(os.path.join(work, "cells"))
            if pipeline.listener_facts is not None:
                truth["listener"] = pipeline.listener_facts
            for cell, facts in truth["cells"].items():
                if facts["path"] == spec.LOG_PATH:
                    ref = os.path.join(work, "cells", cell + ".log")
                    truth["reference_cell"] = cell
        truth["sink"] = snk.events
        with open(os.path.join(work, "truth.json"), "w") as f:
            json.dump(truth, f, indent=1)
        if os.path.exists(ref):
            shutil.copy(ref, os.path.join(work, "maillog"))


# -------------------------------------------------------------- comparing

def parse_metrics(text):
    out = []
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = sample.match(line)
        if m:
            out.append((m.group(1), dict(label.findall(m.group(2) or "")),
                        float(m.group(3))))
    return out


def outcome_class(code):
    return code[0] + "xx"


def transactions(events):
    """The sink's final word per recipient per transaction: a refused RCPT,
    or the reply to the end of DATA."""
    return [e for e in events if e["stage"] == "data" or e["code"][0] != "2"]


def last_deferred(events):
    """The recipients whose last attempt at the sink was deferred. Once the
    queue has drained, the MTA must have given each of them up when the
    test's short queue lifetime ended (no reply to quote: class 5xx)."""
    last = {}
    for e in transactions(events):
        last[e["rcpt"]] = e["code"]
    return sorted(r for r, code in last.items() if code[0] == "4")


def count_lines(lines, regex):
    """How many lines the regex finds: the harness's own reader of the MTA's
    log, a regex per kind of line, independent of the exporter's parsers."""
    return sum(1 for line in lines if regex.search(line))


def expiries(lines, regex):
    """extra_outbound for the lines that give a deferred message up (the
    queue lifetime ran out): no reply quoted, class 5xx. Read from the log,
    since when each retry happens is the MTA's business."""
    n = count_lines(lines, regex)
    return {("5xx", "", ""): n} if n else {}


def compare(spec, work, report):
    truth = json.load(open(os.path.join(work, "truth.json")))
    for e in truth["errors"]:
        report.check("scenario", False, e)
    for name, ok, detail in truth.get("checks", []):
        report.check(name, ok, detail)
    seen = {e["rcpt"].split("@")[0] for e in truth["sink"]}
    missing = sorted(set(OUTBOUND) - seen)
    report.check("the sink was asked for every scenario recipient", not missing,
                 "never asked: %s" % missing)
    report.check("swaks was refused %d times" % 4, len(truth["inbound"]) == 4,
                 "refusals: %d" % len(truth["inbound"]))
    logpath = os.path.join(work, "maillog")
    if not os.path.exists(logpath):
        report.check("log written", False, spec.LOG_PATH + " does not exist")
        return
    lines = open(logpath, "rb").read().decode("utf-8", "replace").splitlines()
    report.check("log written", len(lines) > 0, "%d lines in %s" % (len(lines), spec.LOG_PATH))
    metrics = exporter_once(logpath, report, "exporter --once")
    got, other_mta = status_counts(metrics, spec.NAME)
    report.check("no counts under another mta", not other_mta, str(dict(other_mta)))

    want_out = collections.Counter()
    for e in transactions(truth["sink"]):
        want_out[spec.outbound_labels(e)] += 1
    for key, n in spec.extra_outbound(truth["sink"], lines).items():
        want_out[key] += n
    if hasattr(spec, "more_outbound"):
        for key, n in spec.more_outbound(truth).items():
            want_out[key] += n
    if hasattr(spec, "EXPIRED"):
        # Not a prediction of timing: with the queue drained, a message
        # whose last reply from the sink was 4xx can only have left by
        # expiring, however many retries it took.
        deferred = last_deferred(truth["sink"])
        n = count_lines(lines, spec.EXPIRED)
        report.check("expiries in the log = recipients last deferred by the sink",
                     n == len(deferred), "%d expiry lines; last deferred: %s" % (n, deferred))
    want_in = collections.Counter()
    for r in truth["inbound"]:
        want_in[spec.inbound_labels(r)] += 1

    for direction, want in (("outbound", want_out), ("inbound", want_in)):
        for key in sorted(set(want) | set(got[direction])):
            w, g = want[key], got[direction][key]
            report.check("%s class=%s code=%r enhanced=%r" % ((direction,) + key),
                         w == g, "want %d, got %d" % (w, g))
    # The operational families against what the scenario did: each spec
    # names the counts its MTA's log must give (sessions opened by swaks,
    # messages in and out of the queue).
    if hasattr(spec, "ops_expected"):
        def total(name, **want):
            return sum(int(v) for n, labels, v in metrics if n == name and
                       labels.get("mta") == spec.NAME and
                       all(labels.get(k) == w for k, w in want.items()))
        for what, got_v, want_v in spec.ops_expected(truth, total, lines):
            report.check(what, got_v == want_v, "want %s, got %s" % (want_v, got_v))
    unmatched = unmatched_lines(metrics, spec.NAME)
    report.check("maillog_unmatched_lines_total{mta=%s} is 0" % spec.NAME,
                 unmatched == 0, "got %d" % unmatched)
    if "cells" in truth:
        compare_cells(spec, work, truth, lines, got, counters(metrics, spec.NAME), report)
    if "listener" in truth:
        compare_listener(spec, truth["listener"], got, counters(metrics, spec.NAME), report)


def compare_listener(spec, facts, ref_got, ref_counters, report):
    """The exporter fed by rsyslog's omfwd (--syslog.listen, octet-counted
    TCP) counts what --once counts over rsyslog's traditional file of the
    same messages (logpipe.py)."""
    what = "%s through rsyslog omfwd to --syslog.listen" % spec.NAME
    report.check(what + ": every message of rsyslog's file received",
                 facts["messages"] == facts["file_lines"] and facts["file_lines"] > 0,
                 "%s received, %s lines in the file" % (facts["messages"], facts["file_lines"]))
    metrics = parse_metrics(open(facts["metrics"]).read())
    got, other_mta = status_counts(metrics, spec.NAME)
    diff = ["%s %s: %d received, %d in the file" % (d, k, got[d][k], ref_got[d][k])
            for d in ("outbound", "inbound")
            for k in sorted(set(got[d]) | set(ref_got[d])) if got[d][k] != ref_got[d][k]]
    total = sum(sum(c.values()) for c in got.values())
    report.check(what + ": maillog_smtp_status_total equals --once over the file",
                 not diff and not other_mta and total > 0,
                 "%d statuses; %s" % (total, "; ".join(diff) or "other mta %s" % dict(other_mta)))
    mine = counters(metrics, spec.NAME)
    diff = ["%s{%s}: %g received, %g in the file" % (k[0], ",".join("%s=%s" % l for l in k[1]),
                                                      mine.get(k, 0), ref_counters.get(k, 0))
            for k in sorted(set(mine) | set(ref_counters))
            if mine.get(k, 0) != ref_counters.get(k, 0)]
    report.check(what + ": every other counter of mta=%s equals --once over the file"
                 % spec.NAME, not diff, "; ".join(diff[:5]) or "%d samples" % len(mine))


def exporter_once(path, report, what):
    binary = os.environ.get("MAILLOG_EXPORTER", "")
    p = subprocess.run([binary, "--once", "--maillog.path=" + path],
                       capture_output=True, text=True, timeout=60)
    report.check(what, p.returncode == 0,
                 "exit %d %s" % (p.returncode, p.stderr.strip()[-300:]))
    return parse_metrics(p.stdout)


def status_counts(metrics, mta):
    """maillog_smtp_status_total of `mta` as {direction: Counter((class,
    code, enhanced))}, and the totals counted under other MTAs."""
    got = {"outbound": collections.Counter(), "inbound": collections.Counter()}
    other_mta = collections.Counter()
    for name, labels, v in metrics:
        if name != "maillog_smtp_status_total":
            continue
        if labels.get("mta") != mta:
            other_mta[labels.get("mta")] += int(v)
            continue
        key = (labels["class"], labels["code"], labels["enhanced"])
        got[labels["direction"]][key] += int(v)
    return got, other_mta


def counters(metrics, mta):
    """Every counter sample of `mta` (the *_total families), keyed by name
    and labels."""
    return {(name, tuple(sorted(labels.items()))): v for name, labels, v in metrics
            if name.endswith("_total") and labels.get("mta") == mta}


def unmatched_lines(metrics, mta):
    return sum(int(v) for name, labels, v in metrics
               if name == "maillog_unmatched_lines_total" and labels.get("mta") == mta)


# The program's name at the start of a syslog message, as the MTA sets it
# (openlog's ident): how the line counts below tell the MTA's lines apart.
SYSLOG_IDENT = {"postfix": r"postfix(?:/[\w/.-]+)?", "exim": r"exim4?",
                "sendmail": r"sm-mta", "opensmtpd": r"smtpd"}


# Exim sends a line that is too long for syslog, or holds a newline, as
# numbered parts "[1\3] ...", "[2\3] ...": one log line, the first part.
SYSLOG_PART = re.compile(r"[:-] +\[(\d+)\\\d+\] ")


def mta_lines(lines, mta):
    """How many lines in `lines` the MTA logged, by a regex of its own on
    the tag (RFC 3164/3339 "ident[pid]:", RFC 5424 APP-NAME), not by the
    exporter's header scanner."""
    ident = SYSLOG_IDENT[mta]
    tagged = re.compile(r"(?:^|\s)(?:%s)\[\d+\]:\s|^<\d+>1 \S+ \S+ (?:%s) "
                        % (ident, ident.split("(?:/")[0]))
    n = 0
    for line in lines:
        part = SYSLOG_PART.search(line)
        if tagged.search(line) and not (part and part.group(1) != "1"):
            n += 1
    return n


def compare_cells(spec, work, truth, ref_lines, ref_got, ref_counters, report):
    """The MTA x writer/format table: every file the syslog daemons wrote
    must count what the MTA's traditional file counts, lose no line of the
    MTA's, and leave nothing unmatched."""
    ref_cell = truth.get("reference_cell")
    ref_name = ref_cell or spec.LOG_PATH
    syslog_lines = None
    for cell, facts in sorted(truth["cells"].items()):
        what = "cell %s x %s (%s)" % (spec.NAME, facts["writer"], facts["format"])
        path = os.path.join(work, "cells", cell + ".log")
        report.check(what + ": end-of-run marker written once", facts["markers"] == 1,
                     "%d markers in %s" % (facts["markers"], facts["path"]))
        if not os.path.exists(path):
            report.check(what + ": file written", False, facts["path"] + " does not exist")
            continue
        lines = open(path, "rb").read().decode("utf-8", "replace").splitlines()
        n = mta_lines(lines, spec.NAME)
        if syslog_lines is None:
            syslog_lines = n
        report.check(what + ": %d %s lines, as many as every other writer's file"
                     % (n, spec.NAME), n == syslog_lines and n > 0,
                     "%d here, %d in the first file" % (n, syslog_lines))
        if cell == ref_cell:
            continue
        metrics = exporter_once(path, report, what + ": exporter --once")
        got, other_mta = status_counts(metrics, spec.NAME)
        diff = ["%s %s: %d here, %d in %s" % (d, k, got[d][k], ref_got[d][k], ref_name)
                for d in ("outbound", "inbound")
                for k in sorted(set(got[d]) | set(ref_got[d])) if got[d][k] != ref_got[d][k]]
        total = sum(sum(c.values()) for c in got.values())
        report.check(what + ": maillog_smtp_status_total equals the traditional file's",
                     not diff and not other_mta,
                     "%d statuses; %s" % (total, "; ".join(diff) or "other mta %s" % dict(other_mta)))
        unmatched = unmatched_lines(metrics, spec.NAME)
        report.check(what + ": maillog_unmatched_lines_total is 0", unmatched == 0,
                     "got %d" % unmatched)
        # The operational families too (connections, queue, reasons...):
        # the header a writer puts on a line must change no count at all.
        mine = counters(metrics, spec.NAME)
        diff = ["%s{%s}: %g here, %g in %s" % (k[0], ",".join("%s=%s" % l for l in k[1]),
                                                mine.get(k, 0), ref_counters.get(k, 0), ref_name)
                for k in sorted(set(mine) | set(ref_counters))
                if mine.get(k, 0) != ref_counters.get(k, 0)]
        report.check(what + ": every other counter of mta=%s equals the traditional file's"
                     % spec.NAME, not diff, "; ".join(diff[:5]) or "%d samples" % len(mine))
    if ref_cell is None and hasattr(spec, "syslog_lines_expected"):
        want = spec.syslog_lines_expected(ref_lines)
        report.check("%s lines in syslog = %s lines in %s" % (spec.NAME, spec.NAME, ref_name),
                     syslog_lines == want, "%s in syslog, %d expected from %s"
                     % (syslog_lines, want, ref_name))


def die_with_parent():
    """prctl(PR_SET_PDEATHSIG, SIGKILL) in the child before exec."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def outer(spec, script):
    report = Report()
    if os.geteuid() != 0:
        skip("needs root for unshare and mounts")
    if not shutil.which("unshare"):
        skip("unshare (util-linux) not found")
    if not shutil.which("swaks"):
        skip("swaks not installed (apt-get install swaks)")
    binary = os.environ.get("MAILLOG_EXPORTER", "")
    if not binary or not os.access(binary, os.X_OK):
        skip("MAILLOG_EXPORTER does not name the built binary")
    # Root without CAP_SYS_ADMIN (an unprivileged container) cannot make
    # namespaces: that is this machine, not a failure of the test.
    probe = subprocess.run(["unshare", "--mount", "--net", "--uts", "--pid", "--fork",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip("unshare is not permitted here: " + probe.stderr.strip()[-200:])
    t0 = time.monotonic()
    unpacked = fetch(spec.NAME, spec.PACKAGES)
    if spec.LOG_VIA_SYSLOG:
        os.environ["E2E_SYSLOG_NG_ROOT"] = fetch("syslog-ng", logpipe.SYSLOG_NG_PACKAGES)
        if not shutil.which("rsyslogd"):
            report.check("rsyslogd installed (tests/run.sh PACKAGES)", False, "not found")
            report.finish()
    work = tempfile.mkdtemp(prefix="maillog-e2e-%s-" % spec.NAME)
    os.chmod(work, 0o755)
    cmd = ["unshare", "--mount", "--net", "--uts", "--pid", "--fork",
           "--kill-child", "--mount-proc", sys.executable, script,
           "--inside", unpacked, work,
           os.readlink("/proc/self/ns/mnt"), os.readlink("/proc/self/ns/net")]
    # If this process dies (meson's timeout, ^C), unshare gets SIGKILL from
    # the kernel, --kill-child then kills the namespace's init, and with it
    # every process of the MTA: nothing outlives the test.
    p = subprocess.Popen(cmd, preexec_fn=die_with_parent)
    def terminated(*_):
        p.kill()
        p.wait()
        sys.exit(1)
    signal.signal(signal.SIGTERM, terminated)
    try:
        rc = p.wait(timeout=spec.INNER_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        report.check("MTA run finished in %ds" % spec.INNER_TIMEOUT, False, "timed out")
    if rc == SKIP:
        sys.exit(SKIP)
    report.check("MTA run in namespace", rc == 0, "exit %d" % rc)
    if os.path.exists(os.path.join(work, "truth.json")):
        compare(spec, work, report)
    log("%s: %.1fs" % (spec.NAME, time.monotonic() - t0))
    if report.failed or os.environ.get("E2E_KEEP"):
        log("work directory kept (maillog, truth.json): " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    report.finish()


def main(spec):
    if len(sys.argv) == 6 and sys.argv[1] == "--inside":
        try:
            inner(spec, sys.argv[2], sys.argv[3],
                  {"mnt": sys.argv[4], "net": sys.argv[5]})
        except SystemExit:
            raise
        except BaseException as e:  # noqa: BLE001 - report it outside
            import traceback
            traceback.print_exc()
            print("inner failure: %s" % e)
            sys.exit(1)
        sys.exit(0)
    outer(spec, os.path.abspath(sys.argv[0]))
