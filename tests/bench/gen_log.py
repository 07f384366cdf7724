#!/usr/bin/env python3
"""Deterministic, realistic Postfix log for the benchmark (stdlib only).

Simulates an MX + submission host the way the log of a busy one looks:
most lines record progress (postscreen, connect/disconnect, TLS, client=,
cleanup, qmgr), about a tenth are delivery results and a few percent are
rejects. Prints the log to stdout; with --truth prints only a JSON object
with the number of lines and of status lines (what maillog_smtp_status_total
must add up to).

  gen_log.py --lines 1000000 --seed 1 > mail.log
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--truth", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    n = status = 0
    t = 0
    w = sys.stdout.write
    buf = []
    while n < a.lines:
        t += 1
        for prog, msg, is_status in session(rng, t):
            if n == a.lines:
                break
            s = t // 3
            buf.append("Nov 28 %02d:%02d:%02d mx1 %s[%d]: %s\n"
                       % (s // 3600 % 24, s // 60 % 60, s % 60, prog, 1000 + len(prog), msg))
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
