"""End to end: Debian's exim4 (daemon-light), relaying everything to the
sink through a manualroute smarthost, logging to its own mainlog, with a
queue runner every 3 s and a 15 s retry rule so deferrals turn into
bounces within the test. See harness.py."""
import os
import re
import subprocess

import harness

NAME = "exim"
PACKAGES = ["exim4-daemon-light", "exim4-base", "exim4-config", "libidn12"]
LOG_PATH = "/var/log/exim4/mainlog"
LOG_VIA_SYSLOG = False
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
log_file_path = /var/log/exim4/%%slog
log_selector = +smtp_confirmation +smtp_connection
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



def ops_expected(truth, total, lines):
    """Each outbound scenario message arrived from an SMTP client; with the
    queue drained every arrival (bounces included) is completed; every swaks
    session is a connection (log_selector +smtp_connection)."""
    return [
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


RETRY_NOT_REACHED = re.compile(
    r"^\S+ \S+ (\[\d+\] )?\S+ == \S+ (R=\S+ )?(T=\S+ )?(routing )?defer \(-5[23]\): "
    r"retry time not reached")


def extra_outbound(events, lines):
    """When the retry rule times out Exim fails the address for good with
    a `**` line that quotes no reply: one per message whose last attempt
    was deferred, class 5xx."""
    last = {}
    for e in harness.transactions(events):
        last[e["rcpt"]] = e["code"]
    expired = sum(1 for code in last.values() if code[0] == "4")
    out = {("5xx", "", ""): expired} if expired else {}
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


def inbound_labels(r):
    """Exim's reject lines do not quote the reply it sent: class from the
    wording (rejected 5xx, temporarily rejected 4xx), no code."""
    code = r["reply"][0][:3]
    return (harness.outcome_class(code), "", "")


if __name__ == "__main__":
    import sys
    harness.main(sys.modules[__name__])
