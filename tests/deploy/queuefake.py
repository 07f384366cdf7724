"""Queues for the deploy tests, which no log can fill: a fake Postfix showq
server on a unix socket, and a fake Exim (a script for `exim -bpc` next to
a spool whose input/ holds -H files, one frozen), so the exporter's
--queue.interval collector fills the maillog_queue_* families the
dashboard's queue panels read.

The showq wire format is Postfix 3.x src/showq/showq.c through attr_print0
("name\\0value\\0" per attribute, "\\0" after each record, an empty record
at the end), as tests/blackbox/test_queue.py speaks it; the -H file is the
shape Exim 4.96 writes (spool_out.c), from the same test.
"""
import os
import socket
import threading
import time

# (queue, queue id, age in seconds, size in bytes, recipients)
POSTFIX_QUEUE = [("deferred", "4VkQ2B0Hc2z9sWt", 7200, 5000, 2),
                 ("deferred", "4VkQ2B0Hc3z9sWv", 30, 500, 1),
                 ("deferred", "4VkQ2B0Hc4z9sWx", 90000, 64000, 1),
                 ("active", "4VkQ2B0Hc5z9sWz", 5, 2400, 1),
                 ("hold", "A1B2C3D4E5", 100000, 2000000, 1)]
EXIM_QUEUED = 7

H_FILE = ("{mid}-H\nDebian-exim 101 101\n<>\n1700000000 0\n"
          "-ident Debian-exim\n-received_protocol local\n-body_linecount 3\n"
          "{frozen}-localerror\nXX\n1\nsender@client.test\n\n"
          "155P Received: from Debian-exim by mail.e2e.test with local (Exim 4.96)\n")


def _attrs(*pairs):
    return b"".join(n.encode() + b"\0" + v.encode() + b"\0" for n, v in pairs)


def showq_listing(messages):
    out = _attrs(("protocol", "mail_queue_list_protocol")) + b"\0"
    now = int(time.time())
    for queue, qid, age, size, nrcpt in messages:
        out += _attrs(("queue_name", queue), ("queue_id", qid), ("time", str(now - age)),
                      ("size", str(size)), ("forced_expire", "0"),
                      ("sender", "sender@client.test"))
        for i in range(nrcpt):
            out += _attrs(("recipient", "r%d@sink.test" % i),
                          ("reason", "host sink.test[127.0.0.1] said: 451 4.3.0 try later"))
        out += b"\0"
    return out + b"\0"


class FakeShowq:
    """Answers every connection with POSTFIX_QUEUE until stop()."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(showq_listing(POSTFIX_QUEUE))
                except OSError:
                    pass

    def stop(self):
        # shutdown() wakes the accept() in the thread; close() alone may not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)


def fake_exim(d):
    """Makes d/exim4/input/ with two -H files (one frozen) and an
    executable d/fake-exim that answers -bpc with EXIM_QUEUED; returns
    the exporter flags that point at them."""
    spool = os.path.join(d, "exim4")
    inp = os.path.join(spool, "input")
    os.makedirs(inp)
    for mid, frozen in (("1rJ4cX-000Bd9-2V", "-frozen 1700000100\n"), ("1rJ4cY-000BdA-3V", "")):
        with open(os.path.join(inp, mid + "-H"), "w") as f:
            f.write(H_FILE.format(mid=mid, frozen=frozen))
    exim = os.path.join(d, "fake-exim")
    with open(exim, "w") as f:
        f.write("#!/bin/sh\n[ \"$1\" = -bpc ] || exit 2\necho %d\n" % EXIM_QUEUED)
    os.chmod(exim, 0o755)
    return ["--exim.binary=" + exim, "--exim.spool-dir=" + spool]
