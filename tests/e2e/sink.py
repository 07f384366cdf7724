"""A scripted SMTP sink for the end-to-end tests: the "remote mail server"
every MTA under test relays to.

It answers each RCPT TO by the recipient's local part (see REPLIES) and
records every reply it gave to a RCPT or to the end of DATA, so the test
knows exactly which replies the MTA received and must have logged.
Python standard library only; it listens on 127.0.0.1 inside the test's
private network namespace.
"""
import json
import socket
import threading

# local part -> the reply lines sent to RCPT TO. The last line carries the
# code that counts; a multi-line reply uses "-" after the code on the
# other lines, as RFC 5321 4.2.1 says.
REPLIES = {
    "ok": ["250 2.1.5 Ok"],
    "tempfail": ["451 4.3.0 Temporary local problem, try later"],
    "busy": ["450 Mailbox busy, try later"],
    "full": ["452 4.2.2 Insufficient system storage"],
    "unknown": ["550 5.1.1 No such user here"],
    "quota": ["552 5.2.2 Mailbox full"],
    "badname": ["553 5.1.3 Bad destination mailbox address syntax"],
    "policy": ["554 5.7.1 Delivery not authorized by policy"],
    "noenh": ["550 Requested action not taken: mailbox unavailable"],
    "multi": ["550-5.7.1 Message rejected by local policy",
              "550-5.7.1 see https://policy.sink.test/ for the reason",
              "550 5.7.1 Go away"],
    "drop": ["421 4.4.2 sink.test Closing connection, too busy"],
    # accepted at RCPT, refused after the message was sent
    "datatemp": ["250 2.1.5 Ok"],
}
DATA_REPLIES = {
    "datatemp": "451 4.3.0 Error processing message, try later",
}
# any other local part (the senders that receive bounces) is accepted
DEFAULT_REPLY = ["250 2.1.5 Ok"]


def split_reply(line):
    """('550', '5.1.1') from '550 5.1.1 text'; enhanced is '' if absent."""
    code = line[:3]
    rest = line[4:].split(" ", 1)[0]
    parts = rest.split(".")
    if (len(parts) == 3 and parts[0] == code[0]
            and all(p.isdigit() and 1 <= len(p) <= 3 for p in parts)):
        return code, rest
    return code, ""


class Listener:
    """A threaded TCP server on 127.0.0.1:port: each accepted connection
    is handed to self.session(conn) in a thread of its own; stop() ends
    the accept loop and closes the socket. The sink and the e2e content
    filter (xfilter.py) are both one."""

    def __init__(self, port, backlog):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


class Sink(Listener):
    """Threaded SMTP server on 127.0.0.1:port. events is the list of
    replies given: dicts with rcpt, stage ("rcpt" or "data"), code,
    enhanced and the reply lines."""

    def __init__(self, port, hostname="sink.test"):
        self.port = port
        self.hostname = hostname
        self.events = []
        self.lock = threading.Lock()
        Listener.__init__(self, port, 64)

    def record(self, rcpt, stage, lines):
        code, enhanced = split_reply(lines[0])
        with self.lock:
            self.events.append({"rcpt": rcpt, "stage": stage, "code": code,
                                "enhanced": enhanced, "reply": lines})

    def session(self, conn):
        conn.settimeout(60)
        f = conn.makefile("rb")

        def send(*lines):
            conn.sendall("".join(line + "\r\n" for line in lines).encode())

        try:
            send("220 %s ESMTP e2e sink" % self.hostname)
            rcpts = []
            while True:
                raw = f.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    if verb == "EHLO":
                        send("250-%s" % self.hostname, "250-PIPELINING",
                             "250-8BITMIME", "250-ENHANCEDSTATUSCODES",
                             "250 SIZE 10240000")
                    else:
                        send("250 %s" % self.hostname)
                elif verb == "MAIL":
                    rcpts = []
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    addr = line.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                    local = addr.split("@")[0].lower()
                    lines = REPLIES.get(local, DEFAULT_REPLY)
                    self.record(addr, "rcpt", lines)
                    send(*lines)
                    if local == "drop":
                        return
                    if lines[-1].startswith("2"):
                        rcpts.append(addr)
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 No valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    while True:
                        d = f.readline()
                        if not d or d in (b".\r\n", b".\n"):
                            break
                    if not d:
                        return
                    reply = "250 2.0.0 Ok: queued"
                    for r in rcpts:
                        reply = DATA_REPLIES.get(r.split("@")[0].lower(), reply)
                    for r in rcpts:
                        self.record(r, "data", [reply])
                    send(reply)
                    rcpts = []
                elif verb == "RSET":
                    rcpts = []
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


    def dump(self, path):
        with self.lock:
            with open(path, "w") as out:
                json.dump(self.events, out, indent=1)
