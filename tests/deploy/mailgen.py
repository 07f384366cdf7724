"""A small, realistic Postfix log for the deploy tests: whole sessions
(smtpd connect, client=, cleanup, qmgr from=, one delivery result per
recipient with relay=, delay=, delays= and dsn=, qmgr removed), inbound
NOQUEUE rejects, and deferrals and bounces from a few named providers whose
replies carry several failure reasons (greylisting among them, both ways), so
every family the dashboard and the rules read gets data.

Timestamps are RFC 3339 in UTC, taken from the wall clock, so the
exporter's lag and last-line metrics are meaningful. Deterministic for a
given seed and clock.
"""
import random
import threading
import time

DOMAINS = ["gmail.example", "outlook.example", "yahoo.example", "gmx.example",
           "corp.example"]

# (weight, status, dsn, reply): what the remote server answered.
OUTCOMES = [
    (80, "sent", "2.0.0", "250 2.0.0 OK  1733000000 a1si123456qkb.99 - gsmtp"),
    (6, "deferred", "4.7.0",
     "host {mx}[192.0.2.44] said: 421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily "
     "deferred due to unexpected volume or user complaints (in reply to MAIL FROM command)"),
    (4, "deferred", "4.2.2",
     "host {mx}[192.0.2.44] said: 452 4.2.2 The email account that you tried to reach is "
     "over quota (in reply to RCPT TO command)"),
    (3, "deferred", "4.4.1", "connect to {mx}[192.0.2.44]:25: Connection refused"),
    (5, "bounced", "5.1.1",
     "host {mx}[192.0.2.44] said: 550 5.1.1 <{rcpt}>: Recipient address rejected: User "
     "unknown in virtual mailbox table (in reply to RCPT TO command)"),
    (2, "bounced", "5.7.1",
     "host {mx}[192.0.2.44] said: 554 5.7.1 Service unavailable; Client host [192.0.2.25] "
     "blocked using zen.spamhaus.org (in reply to RCPT TO command)"),
    (3, "deferred", "4.2.0",
     "host {mx}[192.0.2.44] said: 450 4.2.0 <{rcpt}>: Recipient address rejected: "
     "Greylisted, see http://postgrey.schweikert.ch/help/{domain}.html (in reply to RCPT TO "
     "command)"),
]

REJECTS = [
    "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org",
    "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table",
    "450 4.7.1 Client host rejected: cannot find your hostname, [{ip}]",
    "450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see "
    "http://postgrey.schweikert.ch/help/example.org.html",
]


class Generator:
    def __init__(self, seed=1, host="mx1", weights=None):
        self.rng = random.Random(seed)
        self.host = host
        self.n = 0
        self.outcomes = OUTCOMES
        if weights is not None:
            self.outcomes = [(w,) + o[1:] for w, o in zip(weights, OUTCOMES)]

    def _ts(self):
        t = time.time()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
            ".%06d+00:00" % int((t % 1) * 1e6)

    def _line(self, tag, pid, text):
        return "%s %s postfix/%s[%d]: %s\n" % (self._ts(), self.host, tag, pid, text)

    def session(self):
        """One inbound session: a reject (1 in 8), or an accepted message
        delivered to one or two remote recipients."""
        r = self.rng
        self.n += 1
        ip = "198.51.100.%d" % r.randint(1, 254)
        client = "mail%d.sender.example[%s]" % (r.randint(1, 99), ip)
        out = [self._line("smtpd", 2000 + self.n % 50, "connect from " + client)]
        if r.random() < 0.125:
            rcpt = "user%d@example.org" % r.randint(1, 500)
            reply = r.choice(REJECTS).format(ip=ip, rcpt=rcpt)
            out.append(self._line("smtpd", 2000 + self.n % 50,
                                  "NOQUEUE: reject: RCPT from %s: %s; from=<s@sender.example> "
                                  "to=<%s> proto=ESMTP helo=<mail.sender.example>"
                                  % (client, reply, rcpt)))
            out.append(self._line("smtpd", 2000 + self.n % 50, "disconnect from " + client +
                                  " ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"))
            return out
        qid = "%010X" % (0x1A00000000 + self.n)
        out.append(self._line("smtpd", 2000 + self.n % 50, "%s: client=%s" % (qid, client)))
        out.append(self._line("cleanup", 3000, "%s: message-id=<%d.%s@sender.example>"
                              % (qid, self.n, self.host)))
        nrcpt = r.choice((1, 1, 2))
        out.append(self._line("qmgr", 4000, "%s: from=<s%d@sender.example>, size=%d, nrcpt=%d "
                              "(queue active)" % (qid, self.n, r.randint(900, 90000), nrcpt)))
        out.append(self._line("smtpd", 2000 + self.n % 50, "disconnect from " + client +
                              " ehlo=1 mail=1 rcpt=%d data=1 quit=1 commands=%d"
                              % (nrcpt, 4 + nrcpt)))
        final = True
        for _ in range(nrcpt):
            domain = r.choice(DOMAINS)
            rcpt = "u%d@%s" % (r.randint(1, 900), domain)
            mx = "mx%d.%s" % (r.randint(1, 3), domain)
            _, status, dsn, reply = r.choices(self.outcomes,
                                              weights=[o[0] for o in self.outcomes])[0]
            d = [round(r.uniform(0.01, 0.4), 2), round(r.uniform(0, 0.05), 2),
                 round(r.uniform(0.05, 2.0), 2), round(r.uniform(0.05, 3.0), 2)]
            if status == "deferred":
                final = False
            out.append(self._line(
                "smtp", 5000 + self.n % 20,
                "%s: to=<%s>, relay=%s, delay=%.2f, delays=%s/%s/%s/%s, "
                "dsn=%s, status=%s (%s)"
                % (qid, rcpt, "none" if "connect to" in reply else mx + "[192.0.2.44]:25",
                   sum(d),
                   d[0], d[1], d[2], d[3], dsn, status,
                   reply.format(mx=mx, rcpt=rcpt, domain=domain))))
        if final:
            out.append(self._line("qmgr", 4000, "%s: removed" % qid))
        return out

    def lines(self, sessions):
        out = []
        for _ in range(sessions):
            out.extend(self.session())
        return "".join(out)


class Writer:
    """Appends `rate` sessions a second to `path` from a thread, as an MTA
    would, until stop()."""

    def __init__(self, path, gen, rate):
        self.path, self.gen, self.rate = path, gen, rate
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with open(self.path, "a") as f:
            while not self.done.is_set():
                f.write(self.gen.lines(max(1, self.rate // 10)))
                f.flush()
                self.done.wait(0.1)

    def stop(self):
        self.done.set()
        self.thread.join()
