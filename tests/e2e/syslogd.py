"""A tiny syslog receiver for the MTAs that log only through syslog(3)
(Sendmail, OpenSMTPD): it binds a unix datagram socket at /dev/log inside
the test's private mount namespace and writes each message as a classic
RFC 3164 line with a hostname, the way rsyslog writes /var/log/mail.log:

    Nov 28 14:10:01 mail sm-mta[4242]: 4ASEA1x1004242: to=<...>, ...

glibc sends "<PRI>Mmm dd HH:MM:SS tag[pid]: msg"; the receiver inserts the
hostname after the timestamp. Python standard library only.
"""
import os
import re
import socket
import threading

HEADER_RE = re.compile(rb"^<(\d{1,3})>([A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) (.*)$", re.S)


class Syslogd:
    def __init__(self, sock_path, out_path, hostname):
        self.hostname = hostname.encode()
        self.out = open(out_path, "ab", buffering=0)
        self.lock = threading.Lock()
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(sock_path)
        os.chmod(sock_path, 0o666)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while True:
            try:
                msg = self.sock.recv(65536)
            except socket.timeout:
                if self.stopping:
                    return
                continue
            except OSError:
                return
            m = HEADER_RE.match(msg)
            if not m:
                continue
            body = m.group(3).rstrip(b"\n\0")
            line = m.group(2) + b" " + self.hostname + b" " + body + b"\n"
            with self.lock:
                self.out.write(line)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()
        with self.lock:
            self.out.close()
