"""End to end: Debian's postfix, relaying everything to the sink, logging
with its own postlogd (maillog_file), retrying deferred mail every few
seconds until a 15 s queue lifetime expires. See harness.py.

Receipts over the loopback (docs/metrics.md, maillog_messages_received_total): all
mail here comes from 127.0.0.1. Besides the harness's messages on port 25,
webmail-style submissions authenticate with Cyrus SASL (sasldb) on port
587, whose content_filter hands them to an amavisd-style filter
(xfilter.py) on 127.0.0.1:10024; the filter hands each back with XFORWARD
to a second smtpd on 127.0.0.1:10025 (syslog_name postfix/amavis). Every
message swaks submitted must count once as received, and no hand-back.

Postfix logs either to maillog_file or to syslog, never both: with
E2E_POSTFIX_LOGGING=syslog (the e2e-postfix-syslog test) the same scenario
runs without maillog_file, logging to syslog through the real rsyslogd and
syslog-ng (logpipe.py), whose traditional file is then LOG_PATH."""
import collections
import glob
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

import harness
import xfilter

NAME = "postfix"
# Cyrus SASL's PLAIN/LOGIN mechanisms and saslpasswd2 are only Recommends
# of postfix, and nothing is installed here: unpack them with it.
PACKAGES = ["postfix", "libsasl2-modules", "sasl2-bin"]
LOG_PATH = "/var/log/mail.log"
LOG_VIA_SYSLOG = os.environ.get("E2E_POSTFIX_LOGGING") == "syslog"
# The syslog run also feeds rsyslog's omfwd to --syslog.listen (logpipe.py).
SYSLOG_LISTENER = LOG_VIA_SYSLOG
PRIVATE_DIRS = ['/etc/postfix', '/var/lib/postfix']
SETTLE_TIMEOUT = 120
INNER_TIMEOUT = 200

MAIN_CF = """\
compatibility_level = 3.6
myhostname = %(host)s
mydomain = e2e.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:%(port)d
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
biff = no
notify_classes =
%(maillog_file)s
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
data_directory = /var/lib/postfix
queue_directory = /var/spool/postfix
mail_owner = postfix
setgid_group = postdrop
queue_run_delay = 3s
minimal_backoff_time = 3s
maximal_backoff_time = 6s
maximal_queue_lifetime = 15s
bounce_queue_lifetime = 15s
cyrus_sasl_config_path = /etc/postfix/sasl
smtpd_sasl_local_domain = $myhostname
smtpd_client_restrictions = check_client_access inline:{ %(client)s=REJECT }
smtpd_sender_restrictions = check_sender_access inline:{ %(sender)s=REJECT }
smtpd_recipient_restrictions =
    check_recipient_access inline:{ {%(rcpt)s=550 5.7.1 Recipient blocked by e2e policy}, {%(temp)s=450 4.7.1 Recipient deferred by e2e policy} }
    permit_mynetworks, reject
"""

# Debian's master.cf without chroot (a chroot would need a copy of /etc and
# the libraries under the queue directory) and without the pipe services.
MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
  -o content_filter=scan:[127.0.0.1]:%(filter)d
scan      unix  -       -       n       -       2       smtp
  -o smtp_send_xforward_command=yes
127.0.0.1:%(back)d inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/amavis
  -o content_filter=
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
"""

# Cyrus SASL for the submission smtpd: users in a private sasldb.
SASL_CONF = """\
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: /etc/postfix/sasl/sasldb2
"""
SASL_USER = "webmail"
SASL_PASSWORD = "e2e-webmail-secret"
FILTER_PORT = 10024
BACK_PORT = 10025
SUBMISSION_PORT = 587
# One webmail-style submission per mechanism: (mechanism, recipient).
SUBMISSIONS = [("PLAIN", "ok@sink.test"), ("LOGIN", "ok@sink.test")]
FILTER = None


def setup():
    harness.add_user("postfix", 990, home="/var/spool/postfix")
    harness.add_group("postdrop", 991)
    with open("/etc/postfix/main.cf", "w") as f:
        f.write(MAIN_CF % {"host": harness.MTA_HOST, "port": harness.SINK_PORT,
                           "maillog_file": "" if LOG_VIA_SYSLOG else "maillog_file = " + LOG_PATH,
                           "client": harness.REJECT_CLIENT,
                           "sender": harness.REJECT_SENDER,
                           "rcpt": harness.REJECT_RCPT, "temp": harness.TEMP_RCPT})
    with open("/etc/postfix/master.cf", "w") as f:
        f.write(MASTER_CF % {"filter": FILTER_PORT, "back": BACK_PORT})
    os.makedirs("/etc/postfix/sasl", exist_ok=True)
    with open("/etc/postfix/sasl/smtpd.conf", "w") as f:
        f.write(SASL_CONF)
    subprocess.run(["saslpasswd2", "-c", "-p", "-f", "/etc/postfix/sasl/sasldb2",
                    "-u", harness.MTA_HOST, SASL_USER],
                   input=SASL_PASSWORD, text=True, check=True)
    # smtpd runs as postfix (no chroot here) and reads it
    os.chown("/etc/postfix/sasl/sasldb2", 0, 990)
    os.chmod("/etc/postfix/sasl/sasldb2", 0o640)
    os.makedirs("/var/spool/postfix", exist_ok=True)
    os.makedirs("/var/lib/postfix", exist_ok=True)
    # what Debian's postinst does; `postfix check` then creates the queue
    os.chown("/var/lib/postfix", 990, 990)
    for prog in ("/usr/sbin/postqueue", "/usr/sbin/postdrop"):
        os.chown(prog, 0, 991)
        os.chmod(prog, 0o2555)
    subprocess.run(["postfix", "check"], check=True)


def start():
    global FILTER
    FILTER = xfilter.Filter(FILTER_PORT, BACK_PORT)
    subprocess.run(["postfix", "start"], check=True)


def more_mail(truth):
    """Inside the namespace, after the harness's own mail: the webmail-style
    submissions, each a swaks session with SMTP AUTH on port 587. What swaks
    got accepted, and what the filter saw, go into truth["more"] (the
    filter's list is taken as it stands when truth is written, after the
    queue has drained)."""
    more = {"submitted": [], "probes": 0, "filter": FILTER.messages}
    if not harness.wait_port(SUBMISSION_PORT):
        truth["errors"].append("postfix never listened on 127.0.0.1:%d" % SUBMISSION_PORT)
        return
    more["probes"] += 1
    for mech, to in SUBMISSIONS:
        p = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(SUBMISSION_PORT),
             "--from", "%s@%s" % (SASL_USER, harness.MTA_HOST), "--to", to,
             "--helo", "webmail.e2e.test", "--auth", mech, "--auth-user", SASL_USER,
             "--auth-password", SASL_PASSWORD,
             "--header", "Subject: e2e webmail submission, " + mech,
             "--body", "maillog_exporter end-to-end webmail submission\n",
             "--timeout", "30"], capture_output=True, text=True, timeout=40)
        # accepted: the reply to the end of DATA was 250 (swaks exits 0)
        ok = p.returncode == 0 and any(
            line.startswith("<-  250") and "queued as" in line
            for line in p.stdout.splitlines())
        more["submitted"].append({"mech": mech, "to": to, "accepted": ok})
        if not ok:
            truth["errors"].append("webmail submission with AUTH %s was not accepted:\n%s"
                                   % (mech, p.stdout[-1500:]))
    truth["more"] = more


def queue_empty():
    for d in ("maildrop", "incoming", "active", "deferred", "hold"):
        if any(os.path.isfile(p) for p in
               glob.glob("/var/spool/postfix/%s/**" % d, recursive=True)):
            return False
    return True


def stop():
    pidfile = "/var/spool/postfix/pid/master.pid"
    try:
        pid = int(open(pidfile).read().split()[0])
    except (OSError, ValueError, IndexError):
        pid = None
    if pid is None:
        if FILTER is not None:
            FILTER.stop()
        return
    # what `postfix stop` does: SIGTERM to master, which stops its children
    harness.terminate(pid)
    if FILTER is not None:
        FILTER.stop()


QUEUES = ("incoming", "active", "deferred", "hold", "maildrop")
EXPORTER_PORT = 9745


def postqueue_j():
    """[(queue_name, queue_id)] from `postqueue -j` (showq's own client)."""
    p = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, timeout=30)
    return [(m["queue_name"], m["queue_id"]) for m in
            (json.loads(line) for line in p.stdout.splitlines() if line.strip())]


def scrape():
    url = "http://127.0.0.1:%d/metrics" % EXPORTER_PORT
    with urllib.request.urlopen(url, timeout=5) as r:
        return harness.parse_metrics(r.read().decode())


def queue_gauges(metrics):
    got = {"success": None, "timestamp": None, "messages": {}, "hist": {}}
    for name, labels, v in metrics:
        if labels.get("mta") != "postfix":
            continue
        if name == "maillog_queue_messages":
            got["messages"][labels["queue"]] = int(v)
        elif name == "maillog_queue_message_age_seconds_count":
            got["hist"][labels["queue"]] = int(v)
        elif name == "maillog_queue_collect_success" and labels["method"] == "showq":
            got["success"] = v
        elif name == "maillog_queue_collect_timestamp_seconds":
            got["timestamp"] = v
    return got


def qmgr_pids():
    """The queue manager's processes (master starts one, `qmgr -l -t
    unix -u`); this PID namespace holds only the test's Postfix."""
    return [p for p in harness.other_pids()
            if harness.proc_name(p).split(" ")[0].endswith("/qmgr")
            or harness.proc_name(p).startswith("qmgr ")]


def queued_checks():
    """With tempfailed mail deferred and two of those messages put on hold,
    the exporter reading showq must count each queue as `postqueue -j` does.
    Deferred mail moves to active and back on every retry, and only qmgr
    moves queue files (delivery agents report to it; showq only reads the
    directories), so qmgr is stopped (SIGSTOP) while the listing, the
    exporter's snapshot and a second listing are taken, and continued
    after: the queue cannot move under the comparison, whenever the
    retries fall. The two listings must still agree."""
    checks = []
    # qmgr is stopped before the deferred messages are picked and held: a
    # retry scan moves the whole deferred queue to active at its own time,
    # and a message it took between the listing and `postsuper -h` would
    # not be held (seen on a loaded machine: every message active, none
    # held). With qmgr stopped only postsuper moves files, so the ones
    # listed as deferred are the ones put on hold.
    frozen = qmgr_pids()
    if not frozen:
        return [("found qmgr to hold the queue still", False,
                 " | ".join(harness.proc_name(p) for p in harness.other_pids()))]
    deadline = time.monotonic() + 60
    while True:
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        deferred = [i for q, i in postqueue_j() if q == "deferred"]
        if len(deferred) >= 3:
            break
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        if time.monotonic() > deadline:
            return [("three messages deferred within 60s", False, str(postqueue_j()))]
        time.sleep(1)   # qmgr runs meanwhile: it is what moves mail to deferred
    held = deferred[:2]
    try:
        for qid in held:
            subprocess.run(["postsuper", "-h", qid], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        raise
    errlog = open("/var/tmp/exporter.err", "w+")
    exporter = subprocess.Popen(
        [os.environ["MAILLOG_EXPORTER"], "--maillog.path=" + LOG_PATH,
         "--web.listen-address=127.0.0.1:%d" % EXPORTER_PORT, "--queue.interval=1",
         "--queue.mta=postfix", "--postfix.showq-path=/var/spool/postfix/public/showq"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        compared, last = False, ""
        deadline = time.monotonic() + 20
        while frozen and not compared and time.monotonic() < deadline:
            time.sleep(0.5)
            t0 = time.time()
            before = postqueue_j()
            # the next snapshot (--queue.interval=1) is taken after t0
            got, until = {}, time.monotonic() + 3
            while time.monotonic() < until:
                try:
                    got = queue_gauges(scrape())
                except OSError as e:
                    last = "scrape: %s" % e
                if got and got["timestamp"] is not None and got["timestamp"] >= t0:
                    break
                time.sleep(0.1)
            if not got:
                continue
            after = postqueue_j()
            if got["success"] != 1 or got["timestamp"] is None or got["timestamp"] < t0:
                last = "no showq snapshot newer than the listing yet: %s" % got
                continue
            if sorted(before) != sorted(after):
                # qmgr is stopped: nothing may move the queue now.
                checks.append(("the queue held still while qmgr was stopped", False,
                               "before %s, after %s" % (before, after)))
                break
            want = collections.Counter(q for q, _ in before)
            compared = True
            checks.append(("postqueue -j lists deferred and held mail",
                           want["hold"] == 2 and want["deferred"] >= 1, str(dict(want))))
            for q in QUEUES:
                checks.append(("maillog_queue_messages{queue=%s} equals postqueue -j" % q,
                               got["messages"].get(q) == want[q],
                               "postqueue -j %d, exporter %s" % (want[q],
                                                                  got["messages"].get(q))))
                checks.append(("maillog_queue_message_age_seconds_count{queue=%s}" % q,
                               got["hist"].get(q) == want[q],
                               "postqueue -j %d, exporter %s" % (want[q], got["hist"].get(q))))
        if frozen and not compared:
            checks.append(("exporter and postqueue -j compared within 20s", False, last))
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        subprocess.run(["postsuper", "-H", "ALL"], capture_output=True)
        harness.stop_child(exporter, 20)
        errlog.seek(0)
        err = errlog.read()
        clean = exporter.returncode == 0
        checks.append(("exporter stopped cleanly", clean,
                       "exit %s%s" % (exporter.returncode, "" if clean else " " + err[-500:])))
        failed = "showq failed" in err
        checks.append(("exporter logged no showq failure", not failed,
                       err[-500:] if failed else ""))
    return checks



def ops_expected(truth, total, lines):
    """Every SMTP session is one smtpd connect and one disconnect with
    QUIT: swaks's on ports 25 and 587, and the filter's to the
    re-injection smtpd on 10025, one per message it handled. Each message
    swaks got accepted is one received message and one accepted client=
    message, by the mechanism it authenticated with; the filter's hand-backs
    are neither. A drained queue has removed every message cleanup wrote
    (bounces included)."""
    more = truth.get("more") or {"submitted": [], "probes": 0, "filter": []}
    filtered = more["filter"]
    accepted = [s for s in more["submitted"] if s["accepted"]]
    n = truth["sessions"] + len(more["submitted"]) + len(filtered)
    probes = truth["probes"] + more["probes"]
    checks = [
        ("smtpd connects = swaks and filter sessions + port probes",
         total("maillog_smtpd_connects_total"), n + probes),
        ("smtpd disconnects = swaks and filter sessions + port probes",
         total("maillog_smtpd_disconnects_total"), n + probes),
        ("disconnects with QUIT = swaks and filter sessions",
         total("maillog_smtpd_disconnects_total", reason="quit"), n),
        ("accepted messages without AUTH = outbound scenarios (no hand-back)",
         total("maillog_smtpd_messages_accepted_total", sasl_method="none"),
         len(harness.OUTBOUND)),
        ("received = every message swaks got accepted, on 25 and 587, no hand-back",
         total("maillog_messages_received_total"), len(harness.OUTBOUND) + len(accepted)),
        ("qmgr removed = cleanup processed (queue drained)",
         total("maillog_qmgr_messages_removed_total"),
         total("maillog_cleanup_messages_processed_total")),
        ("the filter handled each webmail submission",
         len(filtered), len(accepted)),
        ("the filter was given XFORWARD IDENT and passed it on, for each message",
         sum(1 for m in filtered if m["forwarded"] and m["xforward"].get("IDENT")),
         len(filtered)),
        # what Postfix wrote for the hand-backs (smtpd.c mail_open_stream)
        ("postfix/amavis/smtpd logged orig_queue_id= for each hand-back",
         sum(1 for line in lines if " postfix/amavis/smtpd[" in line and
             ": client=" in line and ", orig_queue_id=" in line), len(filtered)),
    ]
    for mech in sorted({s["mech"] for s in more["submitted"]}):
        checks.append(("accepted messages with AUTH %s = swaks's accepted submissions" % mech,
                       total("maillog_smtpd_messages_accepted_total", sasl_method=mech),
                       sum(1 for s in accepted if s["mech"] == mech)))
    checks += flag_checks(lines, len(harness.OUTBOUND) + len(accepted), len(accepted))
    return checks


def flag_checks(lines, received, submitted):
    """--postfix.reinjection-syslog-name against the real tags: naming the
    re-injecting instance changes nothing (XFORWARD already told), naming
    the submission instance takes its receipts away, in both forms of the
    name."""
    fd, path = tempfile.mkstemp(prefix="maillog-e2e-flag-")
    with os.fdopen(fd, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    checks = []
    try:
        for names, want in ((["postfix/amavis"], received),
                            (["postfix/submission"], received - submitted),
                            (["postfix/amavis/smtpd", "postfix/submission/smtpd"],
                             received - submitted)):
            p = subprocess.run([os.environ["MAILLOG_EXPORTER"], "--once",
                                "--maillog.path=" + path] +
                               ["--postfix.reinjection-syslog-name=" + n for n in names],
                               capture_output=True, text=True, timeout=60)
            got = sum(int(v) for n, labels, v in harness.parse_metrics(p.stdout)
                      if n == "maillog_messages_received_total" and
                      labels.get("mta") == NAME)
            checks.append(("received with --postfix.reinjection-syslog-name=%s" % ",".join(names),
                           got if p.returncode == 0 else "exit %d" % p.returncode, want))
    finally:
        os.unlink(path)
    return checks


def more_outbound(truth):
    """The scan transport's delivery to the filter: one status per
    recipient, with the reply the filter gave (xfilter.py)."""
    out = collections.Counter()
    for m in (truth.get("more") or {}).get("filter", []):
        code, enhanced = harness.sinkmod.split_reply(m["reply"])
        out[(harness.outcome_class(code), code, enhanced)] += len(m["rcpts"])
    return out


def outbound_labels(e):
    """Postfix logs `dsn=`, which is what `enhanced` reports: the reply's
    enhanced code, or Postfix's own X.0.0 when the reply has none."""
    enhanced = e["enhanced"] or e["code"][0] + ".0.0"
    return (harness.outcome_class(e["code"]), e["code"], enhanced)


EXPIRED = re.compile(r"postfix/qmgr\[\d+\]: \w+: from=<[^>]*>, status=expired, returned to sender$")
# A deferral logged without trying the sink: a destination that failed
# recently is skipped for a while (qmgr's dead-destination throttle), and
# the line quotes the reply that made it so.
SUSPENDED = re.compile(r"postfix/\w+\[\d+\]: \w+: to=<[^>]*>.*, dsn=(4\.\d+\.\d+), "
                       r"status=deferred \(delivery temporarily suspended: (.*)\)$")
SAID = re.compile(r"(?:said|refused to talk to me): (\d{3})[ -]")


def extra_outbound(events, lines):
    """What the sink cannot know, read from the log: one qmgr `status=
    expired, returned to sender` line per message given up (no reply
    quoted, class 5xx), and any `delivery temporarily suspended` deferral
    (no attempt; its code is the reply it quotes, if any)."""
    out = collections.Counter(harness.expiries(lines, EXPIRED))
    for line in lines:
        m = SUSPENDED.search(line)
        if m:
            said = SAID.search(m.group(2))
            out[("4xx", said.group(1) if said else "", m.group(1))] += 1
    return out


def inbound_labels(r):
    code, enhanced = harness.sinkmod.split_reply(r["reply"][0])
    return (harness.outcome_class(code), code, enhanced)


if __name__ == "__main__":
    import sys
    harness.main(sys.modules[__name__])
