"""End to end: Debian's postfix, relaying everything to the sink, logging
with its own postlogd (maillog_file), retrying deferred mail every few
seconds until a 15 s queue lifetime expires. See harness.py."""
import glob
import os
import subprocess

import harness

NAME = "postfix"
PACKAGES = ["postfix"]
LOG_PATH = "/var/log/mail.log"
LOG_VIA_SYSLOG = False
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
maillog_file = %(log)s
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
"""


def setup():
    harness.add_user("postfix", 990, home="/var/spool/postfix")
    harness.add_group("postdrop", 991)
    with open("/etc/postfix/main.cf", "w") as f:
        f.write(MAIN_CF % {"host": harness.MTA_HOST, "port": harness.SINK_PORT,
                           "log": LOG_PATH, "client": harness.REJECT_CLIENT,
                           "sender": harness.REJECT_SENDER,
                           "rcpt": harness.REJECT_RCPT, "temp": harness.TEMP_RCPT})
    with open("/etc/postfix/master.cf", "w") as f:
        f.write(MASTER_CF)
    os.makedirs("/var/spool/postfix", exist_ok=True)
    os.makedirs("/var/lib/postfix", exist_ok=True)
    # what Debian's postinst does; `postfix check` then creates the queue
    os.chown("/var/lib/postfix", 990, 990)
    for prog in ("/usr/sbin/postqueue", "/usr/sbin/postdrop"):
        os.chown(prog, 0, 991)
        os.chmod(prog, 0o2555)
    subprocess.run(["postfix", "check"], check=True)


def start():
    subprocess.run(["postfix", "start"], check=True)


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
        return
    # what `postfix stop` does: SIGTERM to master, which stops its children
    harness.terminate(pid)


def outbound_labels(e):
    """Postfix logs `dsn=`, which is what `enhanced` reports: the reply's
    enhanced code, or Postfix's own X.0.0 when the reply has none."""
    enhanced = e["enhanced"] or e["code"][0] + ".0.0"
    return (harness.outcome_class(e["code"]), e["code"], enhanced)


def extra_outbound(events, lines):
    """One qmgr `status=expired, returned to sender` line per message whose
    last attempt was deferred: no reply quoted, class 5xx."""
    last = {}
    for e in harness.transactions(events):
        last[e["rcpt"]] = e["code"]
    expired = sum(1 for code in last.values() if code[0] == "4")
    return {("5xx", "", ""): expired} if expired else {}


def inbound_labels(r):
    code, enhanced = harness.sinkmod.split_reply(r["reply"][0])
    return (harness.outcome_class(code), code, enhanced)


if __name__ == "__main__":
    import sys
    harness.main(sys.modules[__name__])
