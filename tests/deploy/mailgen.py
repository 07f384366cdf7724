"""A small, realistic Postfix log for the deploy tests: whole sessions
(smtpd connect, client=, cleanup, qmgr from=, one delivery result per
recipient with relay=, delay=, delays= and dsn=, qmgr removed), inbound
NOQUEUE rejects, and deferrals and bounces from a few named providers whose
replies carry several failure reasons (greylisting among them, both ways), so
every family the dashboard and the rules read gets data. Around them, the
operational lines (parsers/ops.c): postscreen in front of smtpd (PASS,
PREGREET, DNSBL rank), TLS both ways, a failed handshake, lost connections,
SASL failures, and optionally Exim through syslog (<=, =>, ==, Completed). Every shape
is one of tests/data/postfix/golden.txt or tests/data/exim/golden.txt.

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


# TLS lines of smtpd (inbound) and smtp (outbound), Postfix 3.x tls_server.c
# and tls_client.c, as in tests/data/postfix/golden.txt.
TLS_IN = [
    "Anonymous TLS connection established from {client}: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS "
    "(2048 bits) server-digest SHA256",
    "Untrusted TLS connection established from {client}: TLSv1.2 with cipher "
    "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
]
TLS_OUT = [
    "Verified TLS connection established to {mx}[192.0.2.44]:25: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits)",
    "Trusted TLS connection established to {mx}[192.0.2.44]:25: TLSv1.2 with cipher "
    "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
    "Untrusted TLS connection established to {mx}[192.0.2.44]:25: TLSv1.3 with cipher "
    "TLS_AES_128_GCM_SHA256 (128/128 bits) key-exchange X25519 server-signature ECDSA "
    "(P-256) server-digest SHA256",
]


class Generator:
    def __init__(self, seed=1, host="mx1", weights=None, exim=False):
        """exim: also an Exim's messages, for tests that read every MTA
        (the fleet test compares single-MTA sums and leaves it out)."""
        self.rng = random.Random(seed)
        self.host = host
        self.exim = exim
        self.n = 0
        self.port = 40000
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
        out = self.screen(ip)
        out.append(self._line("smtpd", 2000 + self.n % 50, "connect from " + client))
        if r.random() < 0.7:
            out.append(self._line(
                "smtpd", 2000 + self.n % 50,
                r.choice(TLS_IN).format(client=client)))
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
            if "connect to" not in reply and r.random() < 0.8:
                out.append(self._line("smtp", 5000 + self.n % 20,
                                      r.choice(TLS_OUT).format(mx=mx)))
            out.append(self._delivery_line(qid, rcpt, mx, d, dsn, status,
                                           reply.format(mx=mx, rcpt=rcpt, domain=domain)))
        if final:
            out.append(self._line("qmgr", 4000, "%s: removed" % qid))
        return out

    def _delivery_line(self, qid, rcpt, mx, d, dsn, status, reply):
        return self._line(
            "smtp", 5000 + self.n % 20,
            "%s: to=<%s>, relay=%s, delay=%.2f, delays=%s/%s/%s/%s, "
            "dsn=%s, status=%s (%s)"
            % (qid, rcpt, "none" if "connect to" in reply else mx + "[192.0.2.44]:25",
               sum(d), d[0], d[1], d[2], d[3], dsn, status, reply))

    def delivery(self, status, dsn, reply, domain=None):
        """One delivery attempt of a queued message, as the smtp client
        logs it, with the given result: reply may hold {mx}, {rcpt} and
        {domain} like OUTCOMES. For tests that need one kind of reply, in
        the same shape as session()'s."""
        r = self.rng
        self.n += 1
        domain = domain or r.choice(DOMAINS)
        rcpt = "u%d@%s" % (r.randint(1, 900), domain)
        mx = "mx%d.%s" % (r.randint(1, 3), domain)
        qid = "%010X" % (0x1A00000000 + self.n)
        d = [round(r.uniform(0.01, 0.4), 2), round(r.uniform(0, 0.05), 2),
             round(r.uniform(0.05, 2.0), 2), round(r.uniform(0.05, 3.0), 2)]
        return self._delivery_line(qid, rcpt, mx, d, dsn, status,
                                   reply.format(mx=mx, rcpt=rcpt, domain=domain))

    def screen(self, ip):
        """postscreen in front of smtpd: it passes the client (old, or new
        after its tests), having logged a DNSBL rank below the threshold
        now and then."""
        r = self.rng
        self.port += 1
        peer = "[%s]:%d" % (ip, self.port)
        out = [self._line("postscreen", 1900, "CONNECT from %s to [192.0.2.25]:25" % peer)]
        if r.random() < 0.2:
            out.append(self._line("postscreen", 1900, "DNSBL rank %d for %s"
                                  % (r.choice((1, 2, 3)), peer)))
        out.append(self._line("postscreen", 1900, "PASS %s %s"
                              % ("NEW" if r.random() < 0.2 else "OLD", peer)))
        return out

    def noise(self):
        """What a public MX sees besides mail: a bot failing postscreen, a
        scanner dropping after EHLO or in the TLS handshake, a password
        guess on AUTH."""
        r = self.rng
        self.port += 1
        ip = "203.0.113.%d" % r.randint(1, 254)
        client = "unknown[%s]" % ip
        pid = 2100 + self.n % 50
        kind = r.randrange(4)
        if kind == 0:
            return [self._line("postscreen", 1900, "CONNECT from [%s]:%d to [192.0.2.25]:25"
                               % (ip, self.port)),
                    self._line("postscreen", 1900, "PREGREET 11 after 0.1 from [%s]:%d: "
                               "EHLO x\\r\\n" % (ip, self.port))]
        out = [self._line("smtpd", pid, "connect from " + client)]
        if kind == 1:
            out.append(self._line("smtpd", pid, "lost connection after %s from %s"
                                  % (r.choice(("EHLO", "CONNECT", "AUTH")), client)))
        elif kind == 2:
            out.append(self._line("smtpd", pid, "SSL_accept error from %s: lost connection"
                                  % client))
        else:
            out.append(self._line("smtpd", pid, "warning: %s: SASL %s authentication failed: "
                                  "authentication failure" % (client, r.choice(("LOGIN", "PLAIN")))))
        out.append(self._line("smtpd", pid, "disconnect from %s ehlo=1 commands=1/2" % client))
        return out

    def exim_message(self):
        """An Exim on the same host (through syslog, as exim[pid]): a
        message in over TLS, delivered or deferred, then Completed or not."""
        r = self.rng
        mid = "1tA%03d-%06d-Xy" % (self.n % 1000, self.n % 1000000)

        def line(text):
            return "%s %s exim[812]: %s %s\n" % (self._ts(), self.host, mid, text)
        out = [line("<= sender@example.net H=mail.example.net [198.51.100.20]:41234 "
                    "I=[192.0.2.10]:25 P=esmtps "
                    "X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no "
                    "S=%d id=%d@example.net" % (r.randint(900, 90000), self.n))]
        if r.random() < 0.85:
            out.append(line("=> alice@example.org R=dnslookup T=remote_smtp H=mx.example.org "
                            "[192.0.2.25] X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM"
                            ":256 CV=yes C=\"250 2.0.0 Ok: queued as 4Y2bQ35Xz\""))
            out.append(line("Completed"))
        else:
            out.append(line("== bob@posteo.de R=dnslookup T=remote_smtp defer (-44) "
                            "H=mx01.posteo.de [185.67.36.61]: SMTP error from remote mail "
                            "server after RCPT TO:<bob@posteo.de>: 450 4.7.1 <bob@posteo.de>: "
                            "Recipient address rejected: Greylisted"))
        return out

    def lines(self, sessions):
        out = []
        for _ in range(sessions):
            out.extend(self.session())
            if self.n % 3 == 0:
                out.extend(self.noise())
            if self.exim and self.n % 4 == 0:
                out.extend(self.exim_message())
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
