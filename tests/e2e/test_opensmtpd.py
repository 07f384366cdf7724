"""End to end: Debian's opensmtpd, relaying everything to the sink,
refusing clients, senders and recipients with builtin filters, logging
through syslog to the real rsyslogd and syslog-ng (logpipe.py). OpenSMTPD's own retry
delays are minutes long, so the harness asks it to retry now
(`smtpctl schedule all`) every few seconds, and a 15 s `queue ttl` expires
what is still deferred. See harness.py."""
import os
import re
import subprocess
import threading

import harness

NAME = "opensmtpd"
PACKAGES = ["opensmtpd"]
LOG_PATH = "/var/log/mail.log"
LOG_VIA_SYSLOG = True
PRIVATE_DIRS = ['/var/lib/opensmtpd']
SETTLE_TIMEOUT = 120
INNER_TIMEOUT = 200
daemon = None
kicker_stop = threading.Event()

CONF = """\
queue ttl 15s
table blocked_clients { %(client)s }
table blocked_senders { %(sender)s }
table blocked_rcpts { %(rcpt)s }
table deferred_rcpts { %(temp)s }
filter "client" phase connect match src <blocked_clients> disconnect "554 5.7.1 Client host rejected by e2e policy"
filter "sender" phase mail-from match mail-from <blocked_senders> reject "550 5.7.1 Sender rejected by e2e policy"
filter "rcpt" phase rcpt-to match rcpt-to <blocked_rcpts> reject "550 5.7.1 Recipient blocked by e2e policy"
filter "temp" phase rcpt-to match rcpt-to <deferred_rcpts> reject "450 4.7.1 Recipient deferred by e2e policy"
listen on 127.0.0.1 port 25 hostname %(host)s filter { "client", "sender", "rcpt", "temp" }
action "sink" relay host smtp://127.0.0.1:%(port)d
match from any for any action "sink"
"""


def setup():
    harness.add_user("opensmtpd", 995, home="/var/lib/opensmtpd/empty")
    harness.add_user("opensmtpq", 996, home="/var/lib/opensmtpd/empty")
    with open("/etc/smtpd.conf", "w") as f:
        f.write(CONF % {"host": harness.MTA_HOST, "port": harness.SINK_PORT,
                        "client": harness.REJECT_CLIENT,
                        "sender": harness.REJECT_SENDER,
                        "rcpt": harness.REJECT_RCPT, "temp": harness.TEMP_RCPT})
    os.chmod("/etc/smtpd.conf", 0o644)
    os.makedirs("/var/lib/opensmtpd/empty", exist_ok=True)
    os.chmod("/var/lib/opensmtpd/empty", 0o755)
    os.makedirs("/var/spool/smtpd", exist_ok=True)
    os.chmod("/var/spool/smtpd", 0o711)
    os.chown("/usr/sbin/smtpctl", 0, 996)
    os.chmod("/usr/sbin/smtpctl", 0o2555)
    subprocess.run(["smtpd", "-n", "-f", "/etc/smtpd.conf"], check=True)


def kick():
    while not kicker_stop.wait(2):
        subprocess.run(["smtpctl", "schedule", "all"], capture_output=True)


def start():
    global daemon
    daemon = subprocess.Popen(["smtpd", "-F", "-f", "/etc/smtpd.conf"])
    threading.Thread(target=kick, daemon=True).start()


def queue_empty():
    p = subprocess.run(["smtpctl", "show", "queue"], capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.strip() == ""


def stop():
    kicker_stop.set()
    if daemon is not None:
        harness.terminate(daemon.pid)



def ops_expected(truth, total, lines):
    """Every swaks session, the port probe, and each session OpenSMTPD opens
    to itself to inject a bounce ("smtp connected address=local", counted
    from the log: how many bounces it makes is its business) is one
    connected and one disconnected line."""
    truth = dict(truth, local_sessions=sum(
        1 for line in lines if " smtp connected address=local " in line))
    # Every swaks message came from 127.0.0.1 and is a receipt; so is each
    # bounce OpenSMTPD injects through its own local sessions (their
    # "smtp message" lines, by session ID).
    local = {line.split(" smtp connected ")[0].split()[-1] for line in lines
             if " smtp connected address=local " in line}
    bounces = sum(1 for line in lines if " smtp message " in line and
                  line.split(" smtp message ")[0].split()[-1] in local)
    return [
        ("received = swaks's messages from 127.0.0.1 + injected bounces",
         total("maillog_messages_received_total"), len(harness.OUTBOUND) + bounces),
        ("smtp connected = swaks sessions + port probe + bounce injections",
         total("maillog_smtpd_connects_total"),
         truth["sessions"] + truth["probes"] + truth["local_sessions"]),
        ("smtp disconnected = the same",
         total("maillog_smtpd_disconnects_total"),
         truth["sessions"] + truth["probes"] + truth["local_sessions"]),
        ("disconnects with QUIT = swaks sessions + bounce injections",
         total("maillog_smtpd_disconnects_total", reason="quit"),
         truth["sessions"] + truth["local_sessions"]),
    ]


def outbound_labels(e):
    """OpenSMTPD's `mta delivery` line quotes the remote reply in stat="..."
    (result="Ok" with the DATA reply for a delivery): code and enhanced
    from its start. It has no dsn= field."""
    return (harness.outcome_class(e["code"]), e["code"], e["enhanced"])


EXPIRED = re.compile(r"smtpd\[\d+\]: relay: Expire for \w+: from=<[^>]*>, to=<[^>]*>,"
                     r".* stat=Envelope expired$")


def extra_outbound(events, lines):
    """When `queue ttl` passes, the queue logs one `relay: Expire for ...`
    line per envelope still deferred: no code, class 5xx. Read from the
    log."""
    return harness.expiries(lines, EXPIRED)


def inbound_labels(r):
    """`smtp failed-command ... result="550 5.7.1 ..."` quotes our reply."""
    code, enhanced = harness.sinkmod.split_reply(r["reply"][0])
    return (harness.outcome_class(code), code, enhanced)


if __name__ == "__main__":
    import sys
    harness.main(sys.modules[__name__])
