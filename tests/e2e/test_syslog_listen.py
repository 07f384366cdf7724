#!/usr/bin/env python3
"""--syslog.listen fed by the real senders: Debian's rsyslogd (omfwd over
UDP, TCP octet-counted and TCP LF-framed) and syslog-ng (network(), TCP and
UDP; unpacked from syslog-ng-core with dpkg -x, as logpipe.py does, since
it conflicts with rsyslog as a package).

Each daemon runs with a private config, work directory and pid file, reads
syslog(3)-style datagrams on a private unix socket, writes them to a file
and forwards them to the exporter on 127.0.0.1; one exporter per
transport. The truth is the daemon's own file: every exporter's counts
must equal --once over it (with --metrics.host-label, so the hostname the
sender put in each message counts too). For UDP the listener's
received + dropped must equal the lines in the file; counts are compared
exactly when the kernel dropped nothing. Every wait is on an observable
condition (the last line in the file, the counts in /metrics) with a
generous deadline. The daemons are stopped by PID.

The lines are real-shaped Postfix lines (tests/bench/gen_log.py) and the
real Postfix run in examples/mail.log.
"""
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as e2e  # noqa: E402
import logpipe  # noqa: E402


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# The black-box helpers and the listener test's own (its line sources,
# --once, the listener's samples); both name their helper module
# "harness", as this directory does, so it is lent theirs while loading.
bb = load("bbharness", os.path.join(HERE, "..", "blackbox", "harness.py"))
sys.modules["harness"] = bb
lst = load("bblisten", os.path.join(HERE, "..", "blackbox", "test_syslog_listen.py"))
sys.modules["harness"] = e2e

DEADLINE = 90
SENTINEL_TAG = "postfix/smtp[1010]"
SENTINEL_MSG = (
    "7F3A2B1C0D: to=<john@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, "
    "delay=0.4, delays=0.1/0.01/0.2/0.1, dsn=5.7.26, status=bounced (host "
    "gmail-smtp-in.l.google.com[142.250.27.26] said: 550 5.7.26 Unauthenticated email "
    "(in reply to end of DATA command))")

RSYSLOG_CONF = """\
global(workDirectory="%(work)s" localHostname="mx-rsyslog")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="%(sock)s" RateLimit.Interval="0")
mail.* {
  action(type="omfile" file="%(file)s" template="RSYSLOG_TraditionalFileFormat")
  action(type="omfwd" target="127.0.0.1" port="%(udp)d" protocol="udp")
  action(type="omfwd" target="127.0.0.1" port="%(octet)d" protocol="tcp"
         TCP_Framing="octet-counted" action.resumeRetryCount="-1"
         queue.type="LinkedList" queue.size="100000")
  action(type="omfwd" target="127.0.0.1" port="%(lf)d" protocol="tcp"
         action.resumeRetryCount="-1")
}
"""

SYSLOG_NG_CONF = """\
@version: 3.38
options { use-dns(no); flush-lines(0); };
source s_local { unix-dgram("%(sock)s" host-override("mx-syslog-ng")); };
destination d_file { file("%(file)s"); };
destination d_tcp { network("127.0.0.1" port(%(tcp)d) transport("tcp")); };
destination d_udp { network("127.0.0.1" port(%(udp)d) transport("udp")); };
log { source(s_local); destination(d_file); destination(d_tcp); destination(d_udp); };
"""


def wait_for(cond, what, timeout=DEADLINE, alive=None):
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(0.1)


class Sender:
    """A syslog daemon we started: its config, stderr and pid file in d."""

    def __init__(self, name, args, d, env=None):
        self.name = name
        self.err = open(os.path.join(d, name + ".err"), "w+")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.err,
                                     stderr=subprocess.STDOUT, env=env)

    def alive(self):
        if self.proc.poll() is not None:
            self.err.seek(0)
            raise AssertionError("%s exited %s: %s" % (self.name, self.proc.returncode,
                                                       self.err.read()[-800:]))

    def stop(self):
        if self.proc.poll() is None:
            rc = logpipe.stop_child(self.proc, 20)
            if rc not in (0, None):
                print("# %s exited %s after SIGTERM" % (self.name, rc))


def send_all(sock_path, lines):
    """Each line as glibc's syslog(3) writes it (no hostname); the sender
    puts its own host name in. The last one is the sentinel."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for line in lines:
        stamp, _, rest = lst.split_line(line)
        s.sendto(("<22>%s %s" % (stamp, rest)).encode(), sock_path)
    s.sendto(("<22>%s %s: %s" % (time.strftime("%b %e %H:%M:%S"), SENTINEL_TAG,
                                  SENTINEL_MSG)).encode(), sock_path)
    s.close()


def file_has_sentinel(path):
    try:
        with open(path, "rb") as f:
            return b"dsn=5.7.26" in f.read()
    except OSError:
        return False


def check_listener(d, addr, file_lines, label):
    want = lst.status(lst.once_metrics(file_lines, "--metrics.host-label"))
    if not want:
        raise AssertionError("%s: --once counts nothing in the sender's file" % label)
    udp = addr.startswith("udp://")

    probes = 0
    if udp:
        # The kernel reports drops with the next datagram received: when
        # the last ones were dropped, nothing would ever say so. Probes (a
        # line that counts nothing) go straight to the listener until
        # received + dropped covers everything sent, probes included.
        port = int(addr.rsplit(":", 1)[1])
        probe = b"<22>Nov 28 14:10:01 probe probe[1]: not a mail line"
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + DEADLINE
        while True:
            m = d.metrics()
            total = lst.listener(m, "maillog_syslog_messages_total", addr) + \
                lst.listener(m, "maillog_syslog_dropped_datagrams_total", addr)
            if total >= len(file_lines) + probes or time.monotonic() > deadline:
                break
            s.sendto(probe, ("127.0.0.1", port))
            probes += 1
            time.sleep(0.2)
        s.close()
        if lst.listener(m, "maillog_syslog_dropped_datagrams_total", addr) == 0:
            # A scrape reads the statuses before the listener's families, so
            # the one that showed the last message may not show its status
            # yet: wait for the counts as well (nothing was dropped, so they
            # must arrive).
            m = d.wait_for(lambda m: lst.status(m) == want, DEADLINE)
    else:
        m = d.wait_for(lambda m: lst.status(m) == want, DEADLINE)
    got = lst.listener(m, "maillog_syslog_messages_total", addr)
    dropped = lst.listener(m, "maillog_syslog_dropped_datagrams_total", addr)
    malformed = lst.listener(m, "maillog_syslog_malformed_messages_total", addr)
    print("# %s: %d lines in the sender's file, %d received, %d dropped, %d malformed"
          "%s" % (label, len(file_lines), got, dropped, malformed,
                  ", %d probes" % probes if probes else ""))
    if malformed:
        raise AssertionError("%s: %d malformed messages" % (label, malformed))
    if udp:
        if got + dropped != len(file_lines) + probes:
            raise AssertionError("%s: %d received + %d dropped != %d sent"
                                 % (label, got, dropped, len(file_lines) + probes))
        if dropped:
            print("# %s: the kernel dropped %d datagrams; counts compared as <= only"
                  % (label, dropped))
            for k, v in lst.status(m).items():
                if v > want.get(k, 0):
                    raise AssertionError("%s: %s counted %d > %d" % (label, k, v, want.get(k)))
            return
    elif got != len(file_lines):
        raise AssertionError("%s: %d messages received, %d lines in the file"
                             % (label, got, len(file_lines)))
    lst.check_equal(lst.status(m), want, label)
    hosts = {dict(k[1]).get("host") for k in lst.status(m)}
    if len(hosts) != 1 or None in hosts:
        raise AssertionError("%s: host labels %s" % (label, hosts))


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in f]


def test_rsyslog(tmp, lines):
    ports = {"udp": lst.free_udp_port(), "octet": bb.free_port(), "lf": bb.free_port()}
    addrs = {"udp": "udp://127.0.0.1:%d" % ports["udp"],
             "octet": "tcp://127.0.0.1:%d" % ports["octet"],
             "lf": "tcp://127.0.0.1:%d" % ports["lf"]}
    daemons = {k: bb.Daemon("--syslog.listen=" + a, "--metrics.host-label")
               for k, a in addrs.items()}
    work = os.path.join(tmp, "rsyslog-work")
    os.mkdir(work)
    values = dict(ports, work=work, sock=os.path.join(tmp, "rsyslog.sock"),
                  file=os.path.join(tmp, "rsyslog-mail.log"))
    conf = os.path.join(tmp, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write(RSYSLOG_CONF % values)
    rs = Sender("rsyslogd", [shutil.which("rsyslogd") or "/usr/sbin/rsyslogd", "-n", "-f", conf,
                             "-i", os.path.join(tmp, "rsyslogd.pid")], tmp)
    try:
        wait_for(lambda: os.path.exists(values["sock"]), "rsyslogd's socket", alive=rs.alive)
        send_all(values["sock"], lines)
        wait_for(lambda: file_has_sentinel(values["file"]), "rsyslogd's file", alive=rs.alive)
        file_lines = read_lines(values["file"])
        for k, label in (("udp", "rsyslog omfwd udp"), ("octet", "rsyslog omfwd tcp octet-counted"),
                         ("lf", "rsyslog omfwd tcp LF")):
            check_listener(daemons[k], addrs[k], file_lines, label)
    finally:
        rs.stop()
        for d in daemons.values():
            d.stop()


def test_syslog_ng(tmp, lines, root):
    ports = {"tcp": bb.free_port(), "udp": lst.free_udp_port()}
    addrs = {"tcp": "tcp://127.0.0.1:%d" % ports["tcp"],
             "udp": "udp://127.0.0.1:%d" % ports["udp"]}
    daemons = {k: bb.Daemon("--syslog.listen=" + a, "--metrics.host-label")
               for k, a in addrs.items()}
    values = dict(ports, sock=os.path.join(tmp, "syslog-ng.sock"),
                  file=os.path.join(tmp, "syslog-ng-mail.log"))
    conf = os.path.join(tmp, "syslog-ng.conf")
    with open(conf, "w") as f:
        f.write(SYSLOG_NG_CONF % values)
    env = dict(os.environ, LD_LIBRARY_PATH="%s/usr/lib/syslog-ng:%s/usr/lib/x86_64-linux-gnu"
               % (root, root))
    ng = Sender("syslog-ng", [
        root + "/usr/sbin/syslog-ng", "-F", "--no-caps", "-f", conf,
        "--module-path=" + root + "/usr/lib/syslog-ng/3.38",
        "--pidfile=" + os.path.join(tmp, "syslog-ng.pid"),
        "--persist-file=" + os.path.join(tmp, "syslog-ng.persist"),
        "--control=" + os.path.join(tmp, "syslog-ng.ctl")], tmp, env=env)
    try:
        wait_for(lambda: os.path.exists(values["sock"]), "syslog-ng's socket", alive=ng.alive)
        send_all(values["sock"], lines)
        wait_for(lambda: file_has_sentinel(values["file"]), "syslog-ng's file", alive=ng.alive)
        file_lines = read_lines(values["file"])
        for k, label in (("tcp", "syslog-ng network() tcp"), ("udp", "syslog-ng network() udp")):
            check_listener(daemons[k], addrs[k], file_lines, label)
    finally:
        ng.stop()
        for d in daemons.values():
            d.stop()


def main():
    bb.require_binary()
    if not shutil.which("rsyslogd") and not os.path.exists("/usr/sbin/rsyslogd"):
        e2e.skip("rsyslogd not installed (tests/run.sh PACKAGES)")
    root = e2e.fetch("syslog-ng", logpipe.SYSLOG_NG_PACKAGES)
    lines = lst.mail_lines(3000)
    cases = bb.Cases()
    with tempfile.TemporaryDirectory(prefix="maillog-syslog-listen-") as tmp:
        def rsyslog_omfwd_udp_tcp_octet_tcp_lf():
            d = os.path.join(tmp, "rsyslog")
            os.mkdir(d)
            test_rsyslog(d, lines)

        def syslog_ng_network_tcp_udp():
            d = os.path.join(tmp, "syslog-ng")
            os.mkdir(d)
            test_syslog_ng(d, lines, root)
        cases.run(rsyslog_omfwd_udp_tcp_octet_tcp_lf)
        cases.run(syslog_ng_network_tcp_udp)
    cases.finish()


if __name__ == "__main__":
    main()
