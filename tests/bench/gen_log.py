#!/usr/bin/env python3
"""Deterministic, realistic mail log for the benchmark (stdlib only).

Simulates an MX + submission host the way the log of a busy one looks:
most lines record progress (postscreen, connect/disconnect, TLS, client=,
cleanup, qmgr), about a tenth are delivery results and a few percent are
rejects. Prints the log to stdout; with --truth prints only a JSON object
with the number of lines and of status lines (what maillog_smtp_status_total
must add up to).

--format exim writes the same traffic as Exim's own mainlog
(/var/log/exim4/mainlog: <=, =>, ==, **, Completed, ACL rejects),
--format exim-syslog the same lines as Exim logs them through syslog
(log_file_path = syslog, syslog_timestamp = false), and --format sendmail
as sm-mta's syslog lines (from=, to=, STARTTLS=, ruleset rejects). Their
shapes are those of tests/data/exim/golden.txt and
tests/data/sendmail/golden.txt, whose headers cite the sources.
build-aux/pgo-train.sh trains the optimised build on all four.

  gen_log.py --lines 1000000 --seed 1 > mail.log
  gen_log.py --format exim --lines 1000000 --seed 1 > mainlog
"""
import argparse
import json
import random
import sys

DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de",
           "orange.fr", "mailbox.org", "posteo.de", "example.net",
           "corp.example.com")
USERS = ("john", "mary", "info", "sales", "support", "admin", "j.smith",
         "billing", "newsletter", "office")
DELIVERIES = (  # (weight, dsn, status, reply)
    (70, "2.0.0", "sent", "250 2.0.0 Ok: queued as {q}"),
    (8, "2.0.0", "sent", "delivered to mailbox"),
    (3, "4.7.0", "deferred",
     "host {mx}[{ip}] said: 421 4.7.0 Try again later, closing connection. (in reply to MAIL FROM command)"),
    (3, "4.2.2", "deferred",
     "host {mx}[{ip}] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command)"),
    (2, "4.4.1", "deferred", "connect to {mx}[{ip}]:25: Connection timed out"),
    (5, "5.1.1", "bounced",
     "host {mx}[{ip}] said: 550-5.1.1 The email account that you tried to reach does not exist. "
     "550 5.1.1 https://support.google.com/mail/?p=NoSuchUser (in reply to RCPT TO command)"),
    (2, "5.7.1", "bounced",
     "host {mx}[{ip}] said: 554 5.7.1 Message rejected as spam (in reply to end of DATA command)"),
    (1, "5.0.0", "bounced", "host {mx}[{ip}] said: 550 Requested action not taken (in reply to RCPT TO command)"),
)
REJECTS = (
    (5, "450 4.1.8 <{u}@{d}>: Sender address rejected: Domain not found"),
    (6, "550 5.1.1 <{u}@example.org>: Recipient address rejected: User unknown in virtual mailbox table"),
    (10, "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org"),
    (2, "454 4.7.1 <{u}@{d}>: Relay access denied"),
)


def pick(rng, table):
    total = sum(w for w, *_ in table)
    r = rng.uniform(0, total)
    for row in table:
        r -= row[0]
        if r <= 0:
            return row
    return table[-1]


def ip(rng):
    return "%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255),
                            rng.randint(0, 255), rng.randint(1, 254))


def qid(rng):
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(10))


def session(rng, t):
    """One client session and what becomes of its message: a list of
    (program, message, is_status)."""
    out = []
    cip = ip(rng)
    port = rng.randint(1024, 65535)
    out.append(("postfix/postscreen", "CONNECT from [%s]:%d to [192.0.2.25]:25" % (cip, port), False))
    if rng.random() < 0.25:
        out.append(("postfix/postscreen", "PASS NEW [%s]:%d" % (cip, port), False))
    else:
        out.append(("postfix/postscreen", "PASS OLD [%s]:%d" % (cip, port), False))
    out.append(("postfix/smtpd", "connect from unknown[%s]" % cip, False))
    out.append(("postfix/smtpd", "Anonymous TLS connection established from unknown[%s]: "
                "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" % cip, False))
    u, d = rng.choice(USERS), rng.choice(DOMAINS)
    if rng.random() < 0.3:
        reply = pick(rng, REJECTS)[1].format(u=u, d=d, ip=cip)
        out.append(("postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[%s]: %s; from=<%s@%s> "
                    "to=<%s@example.org> proto=ESMTP helo=<mail.%s>" % (cip, reply, u, d, u, d), True))
        out.append(("postfix/smtpd", "disconnect from unknown[%s] ehlo=1 mail=1 rcpt=0/1 quit=1 "
                    "commands=3/4" % cip, False))
        return out
    q = qid(rng)
    out.append(("postfix/smtpd", "%s: client=unknown[%s]" % (q, cip), False))
    out.append(("postfix/cleanup", "%s: message-id=<%s@%s>" % (q, q.lower(), d), False))
    out.append(("postfix/qmgr", "%s: from=<%s@%s>, size=%d, nrcpt=1 (queue active)"
                % (q, u, d, rng.randint(800, 90000)), False))
    out.append(("postfix/smtpd", "disconnect from unknown[%s] ehlo=1 starttls=1 mail=1 rcpt=1 "
                "data=1 quit=1 commands=6" % cip, False))
    _, dsn, status, reply = pick(rng, DELIVERIES)
    rd = rng.choice(DOMAINS)
    mx, mip = "mx.%s" % rd, ip(rng)
    transport = "local" if reply.startswith("delivered") else "smtp"
    relay = "local" if transport == "local" else "%s[%s]:25" % (mx, mip)
    out.append(("postfix/" + transport,
                "%s: to=<%s@%s>, relay=%s, delay=%.1f, delays=0.1/0.01/0.2/0.3, dsn=%s, "
                "status=%s (%s)" % (q, rng.choice(USERS), rd, relay, rng.uniform(0.2, 9), dsn,
                                    status, reply.format(q=qid(rng), mx=mx, ip=mip)), True))
    out.append(("postfix/qmgr", "%s: removed" % q, False))
    return out


EXIM_DELIVERIES = (  # (weight, marker, rest after the address; {r} recipient)
    (70, "=>", 'R=dnslookup T=remote_smtp H={mx} [{ip}] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 '
     'CV=yes C="250 2.0.0 Ok: queued as {q}"'),
    (8, "=>", "R=local_user T=mail_spool"),
    (3, "==", "R=dnslookup T=remote_smtp defer (-44) H={mx} [{ip}]: SMTP error from remote "
     "mail server after RCPT TO:<{r}>: 450 4.7.1 <{r}>: Recipient address rejected: Greylisted"),
    (3, "==", "R=dnslookup T=remote_smtp defer (-46) H={mx} [{ip}]: SMTP error from remote "
     "mail server after RCPT TO:<{r}>: 452 4.2.2 Mailbox full"),
    (2, "==", "R=dnslookup T=remote_smtp defer (110): Connection timed out"),
    (5, "**", "R=dnslookup T=remote_smtp H={mx} [{ip}] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 "
     "CV=yes: SMTP error from remote mail server after RCPT TO:<{r}>: 550 5.1.1 <{r}>: "
     "Recipient address rejected: User unknown in virtual mailbox table"),
    (2, "**", "R=dnslookup T=remote_smtp H={mx} [{ip}]: SMTP error from remote mail server "
     "after end of data: 554 5.7.1 Message rejected as spam"),
)
EXIM_REJECTS = (
    (10, "rejected RCPT <{r}>: JunkMail rejected - {ip} is in an RBL: see "
     "https://www.spamhaus.org/query/ip/{ip}"),
    (6, "rejected RCPT <{r}>: relay not permitted"),
    (5, "temporarily rejected RCPT <{r}>: greylisted."),
    (3, "rejected RCPT <{r}>: Unrouteable address"),
)
SENDMAIL_DELIVERIES = (  # (weight, the to= line after the address; {r} recipient)
    (70, "delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120456, relay={mx}. [{ip}], "
     "dsn=2.0.0, stat=Sent (Ok: queued as {q})"),
    (8, "delay=00:00:00, xdelay=00:00:00, mailer=local, pri=30456, dsn=2.0.0, stat=Sent"),
    (3, "delay=00:00:05, xdelay=00:00:05, mailer=esmtp, pri=120456, relay={mx}. [{ip}], "
     "dsn=4.2.2, reply=452 4.2.2 Mailbox full, stat=Deferred: 452 4.2.2 Mailbox full"),
    (2, "delay=00:05:00, xdelay=00:05:00, mailer=esmtp, pri=120456, relay={mx}. [{ip}], "
     "dsn=4.0.0, stat=Deferred: Connection timed out with {mx}."),
    (5, "delay=00:00:03, xdelay=00:00:02, mailer=esmtp, pri=120345, relay={mx}. [{ip}], "
     "dsn=5.1.1, reply=550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual "
     "mailbox table, stat=User unknown"),
    (2, "delay=00:00:02, xdelay=00:00:01, mailer=esmtp, pri=120345, relay={mx}. [{ip}], "
     "dsn=5.7.1, reply=554 5.7.1 Message rejected as spam, stat=Service unavailable"),
)
SENDMAIL_REJECTS = (
    (10, "ruleset=check_relay, arg1=[{ip}], arg2=127.0.0.2, relay=[{ip}], reject=554 5.7.1 "
     "Rejected {ip} found in zen.spamhaus.org"),
    (6, "ruleset=check_rcpt, arg1=<{r}>, relay={host} [{ip}], reject=550 5.7.1 <{r}>... "
     "Relaying denied"),
    (5, "ruleset=check_mail, arg1=<{s}>, relay={host} [{ip}], reject=451 4.1.8 Domain of "
     "sender address {s} does not resolve"),
    (3, "ruleset=check_rcpt, arg1=<{r}>, relay={host} [{ip}], reject=550 5.1.1 <{r}>... "
     "User unknown"),
)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def exim_id(rng):
    """Exim 4.96's message id (6-6-2, base 62), Debian 12's Exim."""
    return "-".join("".join(rng.choice(B62) for _ in range(n)) for n in (6, 6, 2))


def exim_session(rng, t):
    """The same traffic as session(), as Exim's mainlog has it (program
    None: no syslog header)."""
    out = []
    cip, port = ip(rng), rng.randint(1024, 65535)
    u, d = rng.choice(USERS), rng.choice(DOMAINS)
    host = "mail.%s" % d if rng.random() < 0.6 else None
    client = ("%s [%s]:%d" % (host, cip, port) if host else
              "(%s) [%s]:%d" % ("mail.%s" % d, cip, port))
    if host is None:
        out.append((None, "no host name found for IP address %s" % cip, False))
    if rng.random() < 0.3:
        reply = pick(rng, EXIM_REJECTS)[1].format(r="%s@example.org" % rng.choice(USERS), ip=cip)
        out.append((None, "H=%s F=<%s@%s> %s" % (client, u, d, reply), True))
        return out
    m = exim_id(rng)
    out.append((None, "%s <= %s@%s H=%s P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no "
                "S=%d id=%s@%s" % (m, u, d, client, rng.randint(800, 90000), m.lower(), d),
                False))
    _, marker, rest = pick(rng, EXIM_DELIVERIES)
    rd = rng.choice(DOMAINS)
    r = "%s@%s" % (rng.choice(USERS), rd)
    if rest.startswith("R=local_user"):
        r = "%s <%s@mail.example.org>" % (u, u)
    out.append((None, "%s %s %s %s" % (m, marker, r, rest.format(
        r=r, mx="mx.%s" % rd, ip=ip(rng), q=qid(rng))), True))
    if marker == "**":
        out.append((None, "%s <= <> R=%s U=Debian-exim P=local S=%d"
                    % (exim_id(rng), m, rng.randint(2000, 9000)), False))
    if marker != "==":
        out.append((None, "%s Completed" % m, False))
    return out


def sendmail_session(rng, t):
    """The same traffic as session(), as sm-mta logs it."""
    out = []
    cip = ip(rng)
    u, d = rng.choice(USERS), rng.choice(DOMAINS)
    host = "mail.%s" % d
    q = "4AS%02d%s" % (t % 60, "".join(rng.choice(B62) for _ in range(9)))
    if rng.random() < 0.3:
        reply = pick(rng, SENDMAIL_REJECTS)[1].format(
            r="%s@example.org" % rng.choice(USERS), s="%s@%s" % (u, d), host=host, ip=cip)
        out.append(("sm-mta", "%s: %s" % ("NOQUEUE" if "check_relay" in reply else q, reply),
                    True))
        if "check_relay" not in reply:
            out.append(("sm-mta", "%s: from=<%s@%s>, size=0, class=0, nrcpts=0, proto=ESMTP, "
                        "daemon=MTA-v4, relay=%s [%s]" % (q, u, d, host, cip), False))
        return out
    out.append(("sm-mta", "STARTTLS=server, relay=%s [%s], version=TLSv1.3, verify=NO, "
                "cipher=TLS_AES_256_GCM_SHA384, bits=256/256" % (host, cip), False))
    out.append(("sm-mta", "%s: from=<%s@%s>, size=%d, class=0, nrcpts=1, msgid=<%s@%s>, "
                "proto=ESMTPS, daemon=MTA-v4, relay=%s [%s]"
                % (q, u, d, rng.randint(800, 90000), q.lower(), d, host, cip), False))
    _, rest = pick(rng, SENDMAIL_DELIVERIES)
    rd = rng.choice(DOMAINS)
    mx = "mx.%s" % rd
    r = "%s@%s" % (rng.choice(USERS), rd)
    if "mailer=local" in rest:
        r = "%s@mail.example.org" % u
    else:
        out.append(("sm-mta", "STARTTLS=client, relay=%s., version=TLSv1.3, verify=OK, "
                    "cipher=TLS_AES_256_GCM_SHA384, bits=256/256" % mx, False))
    out.append(("sm-mta", "%s: to=<%s>, %s" % (q, r, rest.format(r=r, mx=mx, ip=ip(rng),
                                                                 q=qid(rng))), True))
    if "dsn=5." in rest:
        out.append(("sm-mta", "%s: %s: DSN: %s" % (q, q[:-1] + "Z", rest.rsplit("stat=", 1)[1]),
                    False))
    return out


SESSIONS = {"postfix": session, "exim": exim_session, "exim-syslog": exim_session,
            "sendmail": sendmail_session}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--truth", action="store_true")
    ap.add_argument("--format", choices=sorted(SESSIONS), default="postfix")
    a = ap.parse_args()
    make = SESSIONS[a.format]
    rng = random.Random(a.seed)
    n = status = 0
    t = 0
    w = sys.stdout.write
    buf = []
    while n < a.lines:
        t += 1
        for prog, msg, is_status in make(rng, t):
            if n == a.lines:
                break
            s = t // 3
            if prog is None and a.format == "exim-syslog":
                prog = "exim"
            if prog is None:     # Exim's mainlog: its own timestamp, no syslog header
                buf.append("2024-11-28 %02d:%02d:%02d %s\n"
                           % (s // 3600 % 24, s // 60 % 60, s % 60, msg))
            else:
                buf.append("Nov 28 %02d:%02d:%02d mx1 %s[%d]: %s\n"
                           % (s // 3600 % 24, s // 60 % 60, s % 60, prog, 1000 + len(prog),
                              msg))
            n += 1
            status += is_status
        if len(buf) > 4096 and not a.truth:
            w("".join(buf))
            buf.clear()
    if a.truth:
        json.dump({"lines": n, "status_lines": status}, sys.stdout)
        print()
    else:
        w("".join(buf))


if __name__ == "__main__":
    main()
