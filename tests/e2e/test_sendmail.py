"""End to end: Debian's sendmail, built from a small .mc with Debian's m4
macros, relaying everything to the sink (SMART_HOST), rejecting clients,
senders and recipients from an access map, logging through syslog to the
real rsyslogd and syslog-ng (logpipe.py), with a queue run every 3 s and a 15 s
Timeout.queuereturn. See harness.py."""
import collections
import os
import re
import subprocess

import harness

NAME = "sendmail"
PACKAGES = ["sendmail-bin", "sendmail-base", "sendmail-cf", "libwrap0"]
LOG_PATH = "/var/log/mail.log"
LOG_VIA_SYSLOG = True
PRIVATE_DIRS = ['/etc/mail', '/var/lib/sendmail']
SETTLE_TIMEOUT = 120
INNER_TIMEOUT = 200
SM = "/usr/libexec/sendmail/sendmail"
PIDFILE = "/run/sendmail/mta/sendmail.pid"
daemon = None
DOWN_DOMAIN = "down.test"
DOWN_HOST = "127.0.0.2"
DOWN_RCPTS = 3

MC = """\
divert(-1)dnl
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`maillog_exporter e2e')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `%(host)s')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confPID_FILE', `%(pidfile)s')dnl
define(`confLOG_LEVEL', `9')dnl
define(`confTO_IDENT', `0s')dnl
define(`confTO_QUEUERETURN', `15s')dnl
define(`confTO_QUEUEWARN', `1h')dnl
define(`confMIN_QUEUE_AGE', `0s')dnl
define(`confDELIVERY_MODE', `background')dnl
define(`confQUEUE_SORT_ORDER', `Filename')dnl
define(`confCW_FILE', `-o /etc/mail/local-host-names')dnl
define(`ALIAS_FILE', `/etc/mail/aliases')dnl
define(`STATUS_FILE', `/var/lib/sendmail/sendmail.st')dnl
define(`SMART_HOST', `esmtp:[127.0.0.1]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h %(port)d')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h %(port)d')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confSERVICE_SWITCH_FILE', `/etc/mail/service.switch-nodns')dnl
FEATURE(`nocanonify')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`access_db', `hash -T<TMPF> /etc/mail/access')dnl
FEATURE(`blocklist_recipients')dnl
FEATURE(`mailertable', `hash -o /etc/mail/mailertable')dnl
FEATURE(`delay_checks')dnl
DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl
MAILER(`smtp')dnl
"""

ACCESS = """\
Connect:%(client)s\tREJECT
Connect:127.0.0.1\tRELAY
From:%(sender)s\tREJECT
To:%(rcpt)s\tERROR:5.7.1:550 Recipient blocked by e2e policy
To:%(temp)s\tERROR:4.7.1:450 Recipient deferred by e2e policy
"""


def setup():
    harness.add_user("smmta", 993, home="/var/lib/sendmail")
    harness.add_user("smmsp", 994, home="/var/lib/sendmail")
    values = {"host": harness.MTA_HOST, "port": harness.SINK_PORT,
              "pidfile": PIDFILE, "client": harness.REJECT_CLIENT,
              "sender": harness.REJECT_SENDER, "rcpt": harness.REJECT_RCPT,
              "temp": harness.TEMP_RCPT}
    os.makedirs("/etc/mail", exist_ok=True)
    os.chmod("/etc/mail", 0o755)
    with open("/etc/mail/e2e.mc", "w") as f:
        f.write(MC % values)
    with open("/etc/mail/sendmail.cf", "w") as f:
        subprocess.run(["m4", "/etc/mail/e2e.mc"], stdout=f, check=True)
    with open("/etc/mail/access", "w") as f:
        f.write(ACCESS % values)
    with open("/etc/mail/aliases", "w") as f:
        f.write("postmaster: root\nMAILER-DAEMON: postmaster\n")
    with open("/etc/mail/local-host-names", "w") as f:
        f.write("")
    for path in ("/etc/mail/sendmail.cf", "/etc/mail/access", "/etc/mail/aliases"):
        os.chmod(path, 0o644)
    subprocess.run(["/usr/libexec/sendmail/makemap", "hash", "/etc/mail/access"],
                   stdin=open("/etc/mail/access"), check=True)
    # DOWN_DOMAIN is routed to a loopback address where nothing listens:
    # every attempt is refused, and a queue run that meets its host again
    # finds it failed in its host status cache.
    with open("/etc/mail/mailertable", "w") as f:
        f.write("%s\tesmtp:[%s]\n" % (DOWN_DOMAIN, DOWN_HOST))
    os.chmod("/etc/mail/mailertable", 0o644)
    subprocess.run(["/usr/libexec/sendmail/makemap", "hash", "/etc/mail/mailertable"],
                   stdin=open("/etc/mail/mailertable"), check=True)
    for d, mode in (("/var/spool/mqueue", 0o700), ("/var/spool/mqueue-client", 0o770),
                    ("/var/lib/sendmail", 0o755), ("/run/sendmail/mta", 0o755)):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, mode)
    open("/var/lib/sendmail/sendmail.st", "w").close()
    subprocess.run([SM, "-bi"], check=True, stdout=subprocess.DEVNULL)


def start():
    # As Debian's init script runs it (-L sm-mta), in the foreground as our
    # child so it is stopped by PID.
    global daemon
    daemon = subprocess.Popen([SM, "-L", "sm-mta", "-bD", "-q3s"])


def queued_checks():
    """Mail for a destination that refuses every connection: DOWN_RCPTS
    messages, one recipient each, queued while the sink's scenario mail
    is. Sendmail tries each at once, then its queue runs find the host
    down; it gives them up with the rest when Timeout.queuereturn ends."""
    checks = []
    for i in range(DOWN_RCPTS):
        rc, replies, out = harness.swaks("down%d@%s" % (i, DOWN_DOMAIN))
        checks.append(("swaks queued down%d@%s" % (i, DOWN_DOMAIN), rc == 0,
                       "exit %d: %s" % (rc, out[-800:])))
    return checks


def queue_empty():
    return not any(n.startswith(("qf", "Qf", "hf")) for n in os.listdir("/var/spool/mqueue"))


def stop():
    if daemon is not None:
        harness.terminate(daemon.pid)


# sendmail's smtptodsn() (deliver.c): the dsn= it logs for a reply that
# carries no enhanced code
SMTPTODSN = {"421": "4.4.2", "450": "4.2.0", "451": "4.3.0", "452": "4.2.2",
             "550": "5.1.1", "551": "5.1.6", "552": "5.2.2", "553": "5.1.3",
             "554": "5.0.0"}



# A to= line for DOWN_DOMAIN, and its dsn=: the sink never hears of those
# deferrals, so they are read from the log.
DOWN_LINE = re.compile(r"to=<[^>]*@%s>, .*dsn=(\d\.\d+\.\d+), stat=Deferred: "
                       % re.escape(DOWN_DOMAIN))
# A deferral of a host found failed in the host status cache: no reply=,
# a connection-level error, and relay= without the connected " [address]"
# that a real attempt's relay= carries.
SKIPPED = re.compile(r", relay=([^,]*), dsn=[^,]*, stat=Deferred: Connection "
                     r"(?:refused by|reset by|timed out with) ")


def ops_expected(truth, total, lines):
    """The port probe connects and leaves without a command: Sendmail logs
    it as a session that never issued MAIL. Every swaks session said MAIL.
    The deferrals Sendmail logged without connecting (its queue runs skip
    DOWN_DOMAIN's host once one attempt of the run failed) are exactly the
    reason="not_attempted" ones; each real attempt to it logged the
    address it connected to, and none of those is one. (How many of each
    there are depends on when the queue runs fell; the counts are compared,
    not predicted.)"""
    skipped = [m for m in (SKIPPED.search(line) for line in lines) if m]
    not_attempted = sum(1 for m in skipped if " [" not in m.group(1))
    attempts = sum(1 for line in lines if DOWN_LINE.search(line)) - not_attempted
    harness.log("sendmail logged %d deferral(s) to %s without connecting, %d attempt(s)"
                % (not_attempted, DOWN_HOST, attempts))
    return [
        ("sessions without MAIL = port probe",
         total("maillog_smtpd_sessions_without_mail_total"), truth["probes"]),
        ("reason=not_attempted = the log's deferrals without a connected address",
         total("maillog_smtp_reason_total", reason="not_attempted"), not_attempted),
    ]

def outbound_labels(e):
    """Sendmail's `to=` lines carry dsn= and, for a refusal, reply= with the
    first line of the remote reply; a delivery logs stat=Sent (...) with
    the remote text but no code, so the exporter counts code="" there."""
    cls = harness.outcome_class(e["code"])
    if cls == "2xx":
        return (cls, "", "2.0.0")
    return (cls, e["code"], e["enhanced"] or
            SMTPTODSN.get(e["code"], e["code"][0] + ".0.0"))


# A deferral without a reply: a queue run that skips a host that failed
# recently (sendmail's host status cache) logs `dsn=4.3.0, stat=Deferred`
# and never talks to the sink. How many there are depends on how many
# queue runs happened.
DEFERRED_NO_REPLY = re.compile(r"sm-mta\[\d+\]: \w+: to=<[^>]*>, (?!.*reply=).*"
                               r"dsn=(4\.\d+\.\d+), stat=Deferred(?:: (?:(\d{3}) )?.*)?$")


def extra_outbound(events, lines):
    """What the sink cannot know, read from the log: the `to=` lines that
    deferred without a reply= (class 4xx, the dsn=, the code only if the
    stat= text starts with one). When Timeout.queuereturn passes, sendmail
    writes no further `to=` line: the last deferral is followed only by
    `QID: BOUNCEQID: DSN: Cannot send message for 15 seconds`, and DSN:
    lines count nowhere (docs/metrics.md)."""
    out = collections.Counter()
    for line in lines:
        m = DEFERRED_NO_REPLY.search(line)
        if m:
            out[("4xx", m.group(2) or "", m.group(1))] += 1
    if out:
        harness.log("sendmail logged %d deferral(s) without a reply (host status "
                    "cache): counted from the log" % sum(out.values()))
    return out


def inbound_labels(r):
    code, enhanced = harness.sinkmod.split_reply(r["reply"][0])
    return (harness.outcome_class(code), code, enhanced)


if __name__ == "__main__":
    import sys
    harness.main(sys.modules[__name__])
