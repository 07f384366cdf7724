"""An after-queue content filter for the end-to-end tests, shaped like
amavisd-new: Postfix's content_filter hands it each message over SMTP on
127.0.0.1:10024, and it hands the message back over SMTP to a second
Postfix smtpd on 127.0.0.1:10025, passing on the XFORWARD attributes
Postfix gave it (NAME, ADDR, PORT, PROTO, HELO, IDENT, SOURCE), as amavisd
does. Its reply to Postfix quotes the re-injecting smtpd's, in amavisd's
form: "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: ...".

It records what happened, for the test to compare with what the exporter
counted: per message, the XFORWARD attributes it was given, the envelope,
and the reply it gave for each recipient. Python standard library only.
"""
import socket
import threading

from sink import Listener

XFORWARD_ATTRS = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")


def reply_of(f):
    """Read one SMTP reply; return its lines (text, without CRLF)."""
    lines = []
    while True:
        raw = f.readline()
        if not raw:
            raise OSError("connection closed during a reply")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


class Filter(Listener):
    """Threaded SMTP proxy: listens on 127.0.0.1:port, re-injects to
    127.0.0.1:back. messages is the list of what it handled: dicts with
    xforward (attribute -> value as received), sender, rcpts, forwarded
    (True if it passed XFORWARD on) and reply (its reply to the end of
    DATA)."""

    def __init__(self, port=10024, back=10025, hostname="filter.e2e.test"):
        self.back = back
        self.hostname = hostname
        self.messages = []
        self.sessions_back = 0   # SMTP sessions it opened to the re-injection smtpd
        self.lock = threading.Lock()
        Listener.__init__(self, port, 16)

    def reinject(self, xforward, sender, rcpts, data):
        """One SMTP transaction to the re-injection smtpd; returns its
        reply to the end of DATA (or the first refusal) and whether the
        XFORWARD attributes were passed on."""
        with self.lock:
            self.sessions_back += 1
        with socket.create_connection(("127.0.0.1", self.back), timeout=60) as s:
            f = s.makefile("rb")

            def cmd(line):
                s.sendall((line + "\r\n").encode())
                return reply_of(f)

            try:
                reply_of(f)
                ehlo = cmd("EHLO " + self.hostname)
                offered = set()
                for line in ehlo:
                    words = line[4:].split()
                    if words and words[0].upper() == "XFORWARD":
                        offered = {w.upper() for w in words[1:]}
                forwarded = False
                # Postfix's smtpd takes several XFORWARD commands; amavisd
                # sends the client attributes, then IDENT and SOURCE.
                for group in (("NAME", "ADDR", "PORT", "PROTO", "HELO"), ("IDENT", "SOURCE")):
                    attrs = ["%s=%s" % (a, xforward[a]) for a in group
                             if a in xforward and a in offered]
                    if attrs:
                        r = cmd("XFORWARD " + " ".join(attrs))
                        if not r[-1].startswith("2"):
                            return r, forwarded
                        forwarded = True
                r = cmd("MAIL FROM:<%s>" % sender)
                if not r[-1].startswith("2"):
                    return r, forwarded
                ok = 0
                last = r
                for rcpt in rcpts:
                    last = cmd("RCPT TO:<%s>" % rcpt)
                    ok += last[-1].startswith("2")
                if not ok:
                    return last, forwarded
                r = cmd("DATA")
                if not r[-1].startswith("3"):
                    return r, forwarded
                s.sendall(data + b".\r\n")
                r = reply_of(f)
                cmd("QUIT")
                return r, forwarded
            finally:
                f.close()

    def session(self, conn):
        conn.settimeout(60)
        f = conn.makefile("rb")

        def send(*lines):
            conn.sendall("".join(line + "\r\n" for line in lines).encode())

        try:
            send("220 %s ESMTP e2e content filter" % self.hostname)
            xforward, sender, rcpts = {}, None, []
            while True:
                raw = f.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    send("250-%s" % self.hostname, "250-PIPELINING",
                         "250-8BITMIME", "250-ENHANCEDSTATUSCODES",
                         "250-XFORWARD " + " ".join(XFORWARD_ATTRS),
                         "250 SIZE 10240000")
                elif verb == "HELO":
                    send("250 %s" % self.hostname)
                elif verb == "XFORWARD":
                    for item in line.split()[1:]:
                        k, _, v = item.partition("=")
                        if k.upper() in XFORWARD_ATTRS:
                            xforward[k.upper()] = v
                    send("250 2.0.0 Ok")
                elif verb == "MAIL":
                    sender = line.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                    rcpts = []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    rcpts.append(line.split(":", 1)[1].strip().split(" ")[0].strip("<>"))
                    send("250 2.1.5 Ok")
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 No valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = []
                    while True:
                        d = f.readline()
                        if not d:
                            return
                        if d in (b".\r\n", b".\n"):
                            break
                        data.append(d if d.endswith(b"\r\n") else d.rstrip(b"\n") + b"\r\n")
                    try:
                        back, forwarded = self.reinject(xforward, sender, rcpts, b"".join(data))
                        code = back[-1][:3]
                        reply = "%s %s from MTA(smtp:[127.0.0.1]:%d): %s" % (
                            code, "2.0.0" if code[0] == "2" else code[0] + ".0.0",
                            self.back, back[-1])
                    except OSError as e:
                        forwarded = False
                        reply = "451 4.5.0 re-injection failed: %s" % e
                    with self.lock:
                        self.messages.append({"xforward": dict(xforward), "sender": sender,
                                              "rcpts": list(rcpts), "forwarded": forwarded,
                                              "reply": reply})
                    send(reply)
                    xforward, sender, rcpts = {}, None, []
                elif verb == "RSET":
                    xforward, sender, rcpts = {}, None, []
                    send("250 2.0.0 Ok")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                elif verb == "NOOP":
                    send("250 2.0.0 Ok")
                else:
                    send("502 5.5.2 Command not recognized")
        except OSError:
            return
        finally:
            f.close()
            conn.close()
