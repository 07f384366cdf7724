"""The real syslog pipeline of the end-to-end tests, inside the test's
namespace: Debian's rsyslogd owns /dev/log (imuxsock) and writes one file
per template at once, and forwards every message over TCP on 127.0.0.1 to
syslog-ng (unpacked from syslog-ng-core, which conflicts with rsyslog as a
package), which writes two more. Each file is one cell of the README's
MTA x writer/format table.

With listener=True (Postfix's syslog run, test_postfix.py), rsyslogd also
forwards every mail message with omfwd over TCP, octet-counted, to the
exporter's --syslog.listen, started here before rsyslogd; once it has
received as many messages as rsyslog's traditional file holds lines, its
/metrics is kept as listener.metrics beside the cells, and the comparison
(harness.compare) wants the same counts as --once over that file.

Each daemon has a private config, pid file (syslog-ng also its persist
file and control socket), runs in the foreground as our child and is
stopped by PID. Before they stop, one marker line goes to /dev/log: rsyslog
handles messages in order and syslog-ng reads one TCP stream in order, so a
file that holds the marker holds everything logged before it. That is the
signal the run waits for; the marker is taken out of the copies the test
reads.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.request

SYSLOG_NG_PACKAGES = ["syslog-ng-core", "libivykis0", "libnet1", "libwrap0"]
FWD_PORT = 5140
LISTEN_PORT = 5515          # the exporter's --syslog.listen, in the test's namespace
LISTEN_WEB = "127.0.0.1:19745"
MARKER_TAG = "e2e-harness"
MARKER = "end of the MTA's run"

# name -> (writer, format, path). "rsyslog-traditional" is Debian's own
# /var/log/mail.log: the traditional file of the MTAs that log only
# through syslog.
CELLS = {
    "rsyslog-traditional": ("rsyslog", "RSYSLOG_TraditionalFileFormat", "/var/log/mail.log"),
    "rsyslog-fileformat": ("rsyslog", "RSYSLOG_FileFormat", "/var/log/rsyslog/fileformat.log"),
    "rsyslog-protocol23": ("rsyslog", "RSYSLOG_SyslogProtocol23Format",
                           "/var/log/rsyslog/protocol23.log"),
    "rsyslog-facpri": ("rsyslog", "custom <facility.priority>", "/var/log/rsyslog/facpri.log"),
    "syslog-ng-default": ("syslog-ng", "default file()", "/var/log/syslog-ng/default.log"),
    "syslog-ng-iso": ("syslog-ng", "ts-format(iso)", "/var/log/syslog-ng/iso.log"),
}

LISTENER_ACTION = """\
  action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp"
         TCP_Framing="octet-counted" action.resumeRetryCount="-1")
""" % LISTEN_PORT

RSYSLOG_CONF = """\
global(workDirectory="/run/rsyslog" preserveFQDN="off")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0"
       SysSock.UseSysTimeStamp="on")
template(name="FacPri" type="string"
         string="%%TIMESTAMP%% <%%syslogfacility-text%%.%%syslogseverity-text%%> %%HOSTNAME%% %%syslogtag%%%%msg:::sp-if-no-1st-sp%%%%msg:::drop-last-lf%%\\n")
mail.* {
  action(type="omfile" file="%(rsyslog-traditional)s" template="RSYSLOG_TraditionalFileFormat")
  action(type="omfile" file="%(rsyslog-fileformat)s" template="RSYSLOG_FileFormat")
  action(type="omfile" file="%(rsyslog-protocol23)s" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfile" file="%(rsyslog-facpri)s" template="FacPri")
  action(type="omfwd" target="127.0.0.1" port="%(port)d" protocol="tcp"
         action.resumeRetryCount="-1")
%(listener_action)s}
"""

SYSLOG_NG_CONF = """\
@version: 3.38
options { keep-hostname(yes); chain-hostnames(no); use-dns(no); flush-lines(0); };
source s_rsyslog { network(ip("127.0.0.1") port(%(port)d) transport("tcp")); };
destination d_default { file("%(syslog-ng-default)s"); };
destination d_iso { file("%(syslog-ng-iso)s" ts-format(iso)); };
log { source(s_rsyslog); destination(d_default); destination(d_iso); };
"""


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False



def stop_child(p, timeout):
    """SIGTERM a child we started (a subprocess.Popen) and wait for it:
    its exit status, or None if it was still running `timeout` seconds
    later and had to be killed. Not harness.terminate(), which reaps with
    waitpid(-1) and would take the exit status before wait() does."""
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None

class Pipeline:
    """rsyslogd + syslog-ng, started by start(), stopped by finish()."""

    def __init__(self, syslog_ng_root, errors, listener=False):
        self.root = syslog_ng_root
        self.errors = errors
        self.procs = {}
        self.run = "/run/e2e-logpipe"
        self.listener = listener
        self.listener_facts = None

    def pids(self):
        return {p.pid for p in self.procs.values()}

    def spawn(self, name, args, env=None):
        err = open(os.path.join(self.run, name + ".err"), "w")
        self.procs[name] = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err,
                                            stderr=subprocess.STDOUT, env=env)

    def stderr_of(self, name):
        try:
            return open(os.path.join(self.run, name + ".err")).read().strip()[-600:]
        except OSError:
            return ""

    def start(self):
        os.makedirs(self.run)
        os.makedirs("/run/rsyslog")
        for _, _, path in CELLS.values():
            os.makedirs(os.path.dirname(path), exist_ok=True)
        values = dict((k, v[2]) for k, v in CELLS.items())
        values["port"] = FWD_PORT
        values["listener_action"] = LISTENER_ACTION if self.listener else ""
        ng_conf = os.path.join(self.run, "syslog-ng.conf")
        with open(ng_conf, "w") as f:
            f.write(SYSLOG_NG_CONF % values)
        rs_conf = os.path.join(self.run, "rsyslog.conf")
        with open(rs_conf, "w") as f:
            f.write(RSYSLOG_CONF % values)
        env = dict(os.environ, LD_LIBRARY_PATH="%s/usr/lib/syslog-ng:%s/usr/lib/x86_64-linux-gnu"
                   % (self.root, self.root))
        self.spawn("syslog-ng", [
            self.root + "/usr/sbin/syslog-ng", "-F", "--no-caps", "-f", ng_conf,
            "--module-path=" + self.root + "/usr/lib/syslog-ng/3.38",
            "--pidfile=" + os.path.join(self.run, "syslog-ng.pid"),
            "--persist-file=" + os.path.join(self.run, "syslog-ng.persist"),
            "--control=" + os.path.join(self.run, "syslog-ng.ctl")], env=env)
        if not wait_for(lambda: listening(FWD_PORT), 20):
            raise RuntimeError("syslog-ng never listened on 127.0.0.1:%d: %s"
                               % (FWD_PORT, self.stderr_of("syslog-ng")))
        if self.listener:
            self.spawn("exporter", [os.environ["MAILLOG_EXPORTER"],
                                    "--syslog.listen=tcp://127.0.0.1:%d" % LISTEN_PORT,
                                    "--web.listen-address=" + LISTEN_WEB])
            if not wait_for(lambda: listening(LISTEN_PORT), 20):
                raise RuntimeError("the exporter never listened on 127.0.0.1:%d: %s"
                                   % (LISTEN_PORT, self.stderr_of("exporter")))
        if os.path.exists("/dev/log"):
            os.unlink("/dev/log")
        self.spawn("rsyslogd", ["rsyslogd", "-n", "-f", rs_conf,
                                "-i", os.path.join(self.run, "rsyslogd.pid")])
        if not wait_for(lambda: os.path.exists("/dev/log"), 20):
            raise RuntimeError("rsyslogd never made /dev/log: " + self.stderr_of("rsyslogd"))

    def marker(self):
        """One message to /dev/log as glibc's syslog(3) writes it."""
        stamp = time.strftime("%b %e %H:%M:%S")
        msg = "<22>%s %s[%d]: %s" % (stamp, MARKER_TAG, os.getpid(), MARKER)
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(msg.encode(), "/dev/log")

    def listener_messages(self):
        try:
            with urllib.request.urlopen("http://%s/metrics" % LISTEN_WEB, timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None, ""
        want = 'maillog_syslog_messages_total{listener="tcp://127.0.0.1:%d"} ' % LISTEN_PORT
        for line in text.splitlines():
            if line.startswith(want):
                return int(float(line[len(want):])), text
        return None, text

    def finish_listener(self, outdir, timeout):
        """Wait until the exporter has received every message rsyslog wrote
        to its traditional file (the marker included), keep its /metrics,
        and stop it by PID."""
        path = CELLS["rsyslog-traditional"][2]
        try:
            want = len(open(path, "rb").read().splitlines())
        except OSError:
            want = -1
        got, text = None, ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got, text = self.listener_messages()
            if got == want:
                break
            time.sleep(0.1)
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, "listener.metrics"), "w") as f:
            f.write(text)
        self.listener_facts = {"messages": got, "file_lines": want,
                               "metrics": os.path.join(outdir, "listener.metrics")}
        rc = stop_child(self.procs.pop("exporter"), 20)
        if rc != 0:
            self.errors.append("the --syslog.listen exporter exited %s: %s"
                               % (rc, self.stderr_of("exporter")))

    def finish(self, outdir, timeout=30):
        """Send the marker, wait until every file holds it, stop both daemons
        by PID (rsyslog first: it is syslog-ng's only client) and copy each
        file without the marker into outdir. Returns {cell: facts}."""
        cells = {}
        if "rsyslogd" in self.procs and os.path.exists("/dev/log"):
            self.marker()

            def marked():
                for _, _, path in CELLS.values():
                    try:
                        if MARKER_TAG.encode() not in open(path, "rb").read():
                            return False
                    except OSError:
                        return False
                return True
            if not wait_for(marked, timeout):
                self.errors.append("the end-of-run marker did not reach every file in %ds"
                                   % timeout)
        if self.listener:
            self.finish_listener(outdir, timeout)
        for name in ("rsyslogd", "syslog-ng"):
            p = self.procs.get(name)
            if p is None:
                continue
            rc = stop_child(p, 20)
            if rc is None:
                self.errors.append("%s (pid %d) still running 20s after SIGTERM; killed"
                                   % (name, p.pid))
                continue
            if rc != 0:
                self.errors.append("%s exited %d: %s" % (name, rc, self.stderr_of(name)))
        os.makedirs(outdir, exist_ok=True)
        for cell, (writer, fmt, path) in CELLS.items():
            facts = {"writer": writer, "format": fmt, "path": path, "markers": 0, "lines": 0}
            if os.path.exists(path):
                kept = []
                for line in open(path, "rb").read().splitlines(keepends=True):
                    if MARKER_TAG.encode() in line and MARKER.encode() in line:
                        facts["markers"] += 1
                    else:
                        kept.append(line)
                with open(os.path.join(outdir, cell + ".log"), "wb") as f:
                    f.write(b"".join(kept))
                facts["lines"] = len(kept)
            cells[cell] = facts
        return cells
