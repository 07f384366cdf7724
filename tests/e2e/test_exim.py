"""End to end: Debian's exim4 (daemon-light), relaying everything to the
sink through a manualroute smarthost, logging to its own mainlog and to
syslog, with a
queue runner every 3 s and a 15 s retry rule so deferrals turn into
bounces within the test. While that mail is deferred, queued_checks()
freezes one message and compares the exporter's Exim queue gauges (from
`exim -bpc`, then from the spool alone) with `exim4 -bp`. See harness.py."""
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import harness

NAME = "exim"
PACKAGES = ["exim4-daemon-light", "exim4-base", "exim4-config", "libidn12"]
LOG_PATH = "/var/log/exim4/mainlog"
# Both: its own mainlog (the traditional file) and syslog, through the real
# rsyslogd and syslog-ng (logpipe.py); every file must count the same.
LOG_VIA_SYSLOG = True
PRIVATE_DIRS = ['/etc/exim4', '/var/lib/exim4']
SETTLE_TIMEOUT = 120
INNER_TIMEOUT = 200
PIDFILE = "/run/exim4/exim.pid"
UID = 992
daemon = None

CONF = """\
primary_hostname = %(host)s
qualify_domain = e2e.test
domainlist local_domains =
hostlist relay_from_hosts = 127.0.0.0/8
local_interfaces = 127.0.0.1
daemon_smtp_ports = 25
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
spool_directory = /var/spool/exim4
log_file_path = /var/log/exim4/%%slog : syslog
log_selector = +smtp_confirmation +smtp_connection +incoming_interface
# Otherwise a line for both the main and the reject log goes to syslog
# twice, and every reject would count twice there (docs/operations.md,
# "Exim's rejectlog").
syslog_duplication = false
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
message_size_limit = 10M
acl_smtp_connect = acl_check_connect
acl_smtp_mail = acl_check_mail
acl_smtp_rcpt = acl_check_rcpt

begin acl

acl_check_connect:
  deny    hosts = %(client)s
          message = Client host rejected by e2e policy
  accept

acl_check_mail:
  deny    senders = %(sender)s
          message = Sender rejected by e2e policy
  accept

acl_check_rcpt:
  deny    recipients = %(rcpt)s
          message = Recipient blocked by e2e policy
  defer   recipients = %(temp)s
          message = Recipient deferred by e2e policy
  accept  hosts = +relay_from_hosts
  deny    message = relay not permitted

begin routers

smarthost:
  driver = manualroute
  domains = ! +local_domains
  transport = remote_smtp
  route_list = * 127.0.0.1
  self = send
  no_more

begin transports

remote_smtp:
  driver = smtp
  port = %(port)d
  allow_localhost
  hosts_avoid_tls = *

begin retry

# busy's retry interval is longer than the 3 s between queue runs, so a
# run that meets it in its retry wait logs "retry time not reached".
busy@*   *   F,15s,5s
*   *   F,15s,1s

begin rewrite
"""


def setup():
    harness.add_user("Debian-exim", UID, home="/var/spool/exim4")
    os.makedirs("/etc/exim4", exist_ok=True)
    with open("/etc/exim4/exim4.conf", "w") as f:
        f.write(CONF % {"host": harness.MTA_HOST, "port": harness.SINK_PORT,
                        "client": harness.REJECT_CLIENT,
                        "sender": harness.REJECT_SENDER,
                        "rcpt": harness.REJECT_RCPT, "temp": harness.TEMP_RCPT})
    os.chmod("/etc/exim4/exim4.conf", 0o644)
    for d in ("/var/spool/exim4", "/var/log/exim4", "/run/exim4"):
        os.makedirs(d, exist_ok=True)
        os.chown(d, UID, UID)
        os.chmod(d, 0o750)
    subprocess.run(["exim4", "-bV"], check=True, stdout=subprocess.DEVNULL)


def start():
    # Exim stays in the foreground when its parent is PID 1, which the
    # harness is in its PID namespace; so keep it as our child.
    global daemon
    daemon = subprocess.Popen(["exim4", "-bd", "-q3s", "-oP", PIDFILE])


def queue_empty():
    p = subprocess.run(["exim4", "-bpc"], capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.strip() == "0"


def stop():
    if daemon is not None:
        harness.terminate(daemon.pid)


SPOOL = "/var/spool/exim4"
# A message's first line in `exim -bp`: age, size, id, <sender>, then
# " *** frozen ***" when it is frozen; its recipients follow on indented
# lines. As Debian's 4.96 prints it here:
#   " 0m   477 1xXOBX-00000k-0I <sender@client.test> *** frozen ***"
BP_MESSAGE = re.compile(r"^\s*\d+[smhdw]\s+\S+\s+(\w{6}-\w{6,11}-\w{2,4}) <[^>]*>")
FROZEN_MARK = "*** frozen ***"


def exim_queue():
    """(`exim4 -bpc`, sorted [(id, frozen)] from `exim4 -bp`), or None when
    either fails."""
    bpc = subprocess.run(["exim4", "-bpc"], capture_output=True, text=True, timeout=30)
    bp = subprocess.run(["exim4", "-bp"], capture_output=True, text=True, timeout=30)
    if bpc.returncode != 0 or bp.returncode != 0 or not bpc.stdout.strip().isdigit():
        return None
    listed = []
    for line in bp.stdout.splitlines():
        m = BP_MESSAGE.match(line)
        if m:
            listed.append((m.group(1), FROZEN_MARK in line))
    return int(bpc.stdout), sorted(listed)


def freeze_one(timeout):
    """Freeze one queued message with `exim4 -Mf`; its id, or None and why.
    A message being delivered is locked and -Mf refuses it: try another,
    or again a little later."""
    deadline, last = time.monotonic() + timeout, "the queue stayed empty"
    while time.monotonic() < deadline:
        q = exim_queue()
        for qid, frozen in (q[1] if q else []):
            if frozen:
                continue
            p = subprocess.run(["exim4", "-Mf", qid], capture_output=True, text=True,
                               timeout=30)
            if p.returncode == 0:
                return qid, ""
            last = "exim4 -Mf %s: exit %d %s" % (qid, p.returncode,
                                                 (p.stdout + p.stderr).strip())
        time.sleep(0.3)
    return None, last


def thaw(qid, timeout=10):
    """`exim4 -Mt`, retried while a queue runner holds the message's lock
    to look at it; exit status and output of the last try."""
    deadline = time.monotonic() + timeout
    while True:
        p = subprocess.run(["exim4", "-Mt", qid], capture_output=True, text=True,
                           timeout=30)
        if p.returncode == 0 or time.monotonic() > deadline:
            return p.returncode, (p.stdout + p.stderr).strip()
        time.sleep(0.3)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exim_gauges(port):
    url = "http://127.0.0.1:%d/metrics" % port
    with urllib.request.urlopen(url, timeout=5) as r:
        metrics = harness.parse_metrics(r.read().decode())
    got = {"messages": None, "frozen": None, "timestamp": None, "success": {}}
    for name, labels, v in metrics:
        if labels.get("mta") != "exim":
            continue
        if name == "maillog_queue_messages" and labels.get("queue") == "input":
            got["messages"] = int(v)
        elif name == "maillog_queue_frozen_messages":
            got["frozen"] = int(v)
        elif name == "maillog_queue_collect_timestamp_seconds":
            got["timestamp"] = v
        elif name == "maillog_queue_collect_success":
            got["success"][labels["method"]] = v
    return got


def snapshot_after(port, t0, timeout):
    """The exporter's Exim gauges once it has published a collection that
    started at or after t0 (wall time); the last scrape, or {}, if not."""
    got, until, why = {}, time.monotonic() + timeout, ""
    while time.monotonic() < until:
        try:
            got = exim_gauges(port)
            if got["timestamp"] is not None and got["timestamp"] >= t0:
                return got, ""
            why = "no collection newer than the listing: %s" % got
        except OSError as e:
            why = "scrape: %s" % e
        time.sleep(0.1)
    return got, why


def compare_exporter(what, binary, method, frozen_id, timeout):
    """Run the exporter in daemon mode with --exim.binary=`binary`; once a
    collection falls between two identical queue listings, compare it with
    them. Mail moves on every queue run (deliveries, bounces), so listings
    that differ prove nothing and are retried. Then SIGTERM, exit 0."""
    checks, port = [], free_port()
    errlog = open("/var/tmp/exporter-%s.err" % method, "w+")
    exporter = subprocess.Popen(
        [os.environ["MAILLOG_EXPORTER"], "--maillog.path=" + LOG_PATH,
         "--web.listen-address=127.0.0.1:%d" % port, "--queue.mta=exim",
         "--queue.interval=1", "--exim.binary=" + binary, "--exim.spool-dir=" + SPOOL],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        compared, last = False, "no listing taken"
        deadline = time.monotonic() + timeout
        while not compared and time.monotonic() < deadline:
            t0 = time.time()
            before = exim_queue()
            got, why = snapshot_after(port, t0, 3)
            after = exim_queue()
            if why:
                last = why
                continue
            if before is None or before != after:
                last = "the queue moved during the comparison: %s then %s" % (before, after)
                continue
            compared = True
            bpc, listed = before
            frozen = sum(f for _, f in listed)
            checks.append(("%s: exim4 -bp lists %s as the one frozen message" % (what, frozen_id),
                           (frozen_id, True) in listed and frozen == 1, str(listed)))
            checks.append(("%s: maillog_queue_messages{queue=input} equals exim4 -bpc" % what,
                           got["messages"] == bpc,
                           "exim4 -bpc %d, exporter %s" % (bpc, got["messages"])))
            checks.append(("%s: maillog_queue_frozen_messages equals exim4 -bp's frozen" % what,
                           got["frozen"] == frozen,
                           "exim4 -bp %d, exporter %s" % (frozen, got["frozen"])))
            checks.append(("%s: maillog_queue_collect_success{method=%s} is 1" % (what, method),
                           got["success"].get(method) == 1, str(got["success"])))
            if method == "spool":
                # the spool alone gave the count: exim -bpc never ran
                checks.append(("%s: no exim-bpc collection" % what,
                               "exim-bpc" not in got["success"], str(got["success"])))
        if not compared:
            checks.append(("%s: exporter and exim4 -bpc compared within %ds" % (what, timeout),
                           False, last))
    finally:
        rc = harness.stop_child(exporter, 10)
        if rc is None:
            rc = "none in 10s after SIGTERM; killed"
        errlog.seek(0)
        err = errlog.read()
        checks.append(("%s: exporter exits 0 on SIGTERM" % what, rc == 0,
                       "exit %s%s" % (rc, "" if rc == 0 else " " + err[-500:])))
        failed = "failed (maillog_queue_collect_success is 0)" in err
        checks.append(("%s: exporter logged no collection failure" % what, not failed,
                       err[-500:] if failed else ""))
    return checks


def queued_checks():
    """While the deferred scenario mail waits in Exim's queue, with one
    message frozen: the exporter's Exim queue gauges, from `exim -bpc` and
    then from counting the spool's -H files alone, against what `exim4 -bp`
    and `exim4 -bpc` list. The message is thawed again so that the queue
    drains as the scenario expects (a frozen message never leaves it)."""
    t0 = time.monotonic()
    qid, why = freeze_one(10)
    if qid is None:
        return [("froze a queued message within 10s", False, why)]
    checks = [("froze queued message %s" % qid, True, "")]
    try:
        exim = shutil.which("exim4")
        checks += compare_exporter("exim -bpc", exim, "exim-bpc", qid, 8)
        checks += compare_exporter("spool", "/nonexistent/exim", "spool", qid, 8)
    finally:
        rc, out = thaw(qid)
        checks.append(("exim4 -Mt %s thawed it" % qid, rc == 0, "exit %d %s" % (rc, out)))
    harness.log("exim queue checks took %.1fs" % (time.monotonic() - t0))
    return checks


# A deferral logged without an attempt, read independently of the
# exporter: "== addr [R=.. T=..] [routing ]defer (N): retry time not reached"
NOT_ATTEMPTED = re.compile(r" == \S+ .*defer \(-?\d+\): retry time not reached")


def ops_expected(truth, total, lines):
    """Each outbound scenario message arrived from an SMTP client; with the
    queue drained every arrival (bounces included) is completed; every swaks
    session is a connection (log_selector +smtp_connection). swaks is an
    application on the mail host: its messages come from 127.0.0.1, and
    +incoming_interface makes Exim state they came in on port 25, not on a
    filter's re-injection port, so each is a receipt, as are the bounces
    Exim made itself (P=local). The deferrals Exim logged without trying
    are exactly the reason="not_attempted" ones (their number depends on
    when the queue runs fell, so it is read from the log)."""
    arrived = total("maillog_exim_messages_total", flag="arrived")
    bounces = sum(1 for line in lines if " <= <> " in line and " P=local " in line)
    not_attempted = sum(1 for line in lines if NOT_ATTEMPTED.search(line))
    harness.log("exim logged %d deferral(s) without an attempt" % not_attempted)
    return [
        ("received = outbound scenarios + Exim's own bounces",
         total("maillog_messages_received_total"), len(harness.OUTBOUND) + bounces),
        ("received = arrived (no arrival is a filter's hand-back here)",
         total("maillog_messages_received_total"), arrived),
        ("reason=not_attempted = the log's \"retry time not reached\" deferrals",
         total("maillog_smtp_reason_total", reason="not_attempted"), not_attempted),
        ("arrived = completed (queue drained)",
         total("maillog_exim_messages_total", flag="arrived"),
         total("maillog_exim_messages_total", flag="completed")),
        ("accepted SMTP messages = outbound scenarios",
         total("maillog_smtpd_messages_accepted_total", sasl_method="none"),
         len(harness.OUTBOUND)),
        ("connections = swaks sessions + port probe", total("maillog_smtpd_connects_total"),
         truth["sessions"] + truth["probes"]),
    ]

def outbound_labels(e):
    """Exim has no dsn= field: enhanced is the code at the start of the
    quoted reply (C="..." for deliveries), or ""."""
    return (harness.outcome_class(e["code"]), e["code"], e["enhanced"])


EXPIRED = re.compile(r"^\S+ \S+ (\[\d+\] )?\S+ \*\* \S+: retry timeout exceeded$")
# Every "retry time not reached" deferral: -52 (the address's retry wait,
# at routing), -53, and -54 (every host of the transport in its wait:
# "defer (-54): retry time not reached for any host for 'sink.test'"),
# which a loaded machine meets when a queue run comes early.
RETRY_NOT_REACHED = re.compile(
    r"^\S+ \S+ (\[\d+\] )?\S+ == \S+ (R=\S+ )?(T=\S+ )?(routing )?defer \(-\d+\): "
    r"retry time not reached")


def extra_outbound(events, lines):
    """When the retry rule times out Exim fails the address for good with
    a `**` line that quotes no reply, class 5xx: read from the log."""
    out = dict(harness.expiries(lines, EXPIRED))
    # A queue runner that reaches a deferred message before its retry time
    # logs "== addr routing defer (-52): retry time not reached" without
    # connecting anywhere, so the sink cannot know of it: take these from
    # the log (their number depends on timing), expect class 4xx, no code.
    early = sum(1 for line in lines if RETRY_NOT_REACHED.search(line))
    if early:
        harness.log("exim logged %d deferral(s) without trying the sink "
                    "(retry time not reached): counted as 4xx, code \"\"" % early)
        out[("4xx", "", "")] = early
    return out


def syslog_lines_expected(mainlog):
    """With syslog_duplication false, each mainlog line goes to syslog once
    (a long one as numbered parts, which harness.mta_lines counts once)."""
    return len(mainlog)


def inbound_labels(r):
    """Exim's reject lines do not quote the reply it sent: class from the
    wording (rejected 5xx, temporarily rejected 4xx), no code."""
    code = r["reply"][0][:3]
    return (harness.outcome_class(code), "", "")


if __name__ == "__main__":
    import sys
    harness.main(sys.modules[__name__])
