#!/usr/bin/env python3
"""--syslog.listen against the real binary, with senders written here (the
real rsyslogd and syslog-ng are in tests/e2e/test_syslog_listen.py).

The truth is always --once over the same lines written to a file: a
message sent to the listener must count exactly as that line does. The
lines are real-shaped Postfix lines from tests/bench/gen_log.py and the
real Postfix run in examples/mail.log. Every wait is on something
/metrics shows, with a generous deadline; no sleep is an oracle.
"""
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import parse_metrics, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
DEADLINE = 60
LISTENER_FAMILIES = ("maillog_syslog_messages_total", "maillog_syslog_malformed_messages_total",
                     "maillog_syslog_oversized_messages_total")


class Daemon(harness.Daemon):
    """The exporter, which must also stop cleanly (exit 0: under the
    sanitizers, no leak and no error at shutdown, when the listeners close
    their connections and remove their sockets)."""

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None and rc != 0:
            raise AssertionError("the daemon exited %s: %s" % (rc, self.stderr()[-1500:]))


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail_lines(n=3000):
    """gen_log.py's lines, then the header-conforming lines of the real
    Postfix run in examples/mail.log."""
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "bench", "gen_log.py"),
                          "--lines", str(n), "--seed", "19"], capture_output=True, check=True,
                         text=True).stdout.splitlines()
    real = []
    for line in open(os.path.join(ROOT, "examples", "mail.log"), encoding="utf-8"):
        f = line.rstrip("\n").split(" ")
        if len(f) > 5 and f[4].endswith(":") and ":" in f[2]:
            real.append(line.rstrip("\n"))
    return gen + real


def split_line(line):
    """'Mmm dd hh:mm:ss host rest' -> (stamp, host, rest)."""
    f = line.split(" ", 4)
    if f[1] == "":   # "Nov  1"
        f = line.split(" ", 5)
        return " ".join(f[:4]), f[4], f[5]
    return " ".join(f[:3]), f[3], f[4]


def once_metrics(lines, *flags):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write("".join(line + "\n" for line in lines))
        path = f.name
    try:
        rc, out, err = run("--once", "--maillog.path=" + path, *flags)
        assert rc == 0, err
        return parse_metrics(out)
    finally:
        os.unlink(path)


def status(metrics):
    return {k: v for k, v in metrics.items() if k[0] == "maillog_smtp_status_total" and v}


def listener(metrics, name, addr):
    return int(metrics.get((name, frozenset({("listener", addr)})), 0))


def wait_counts(d, want, cond=None):
    """Scrape until the status counts equal want (and cond holds)."""
    m = d.wait_for(lambda m: status(m) == want and (cond is None or cond(m)), DEADLINE)
    return m


def check_equal(got, want, what):
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))[:6]
        raise AssertionError("%s: counts differ from --once: %s" % (what, diff))


def test_tcp_framing_both_ways():
    """Octet-counted and LF-framed messages interleaved on two connections,
    cut into random chunks, equal --once; the host label is the message's."""
    lines = mail_lines()
    want = status(once_metrics(lines, "--metrics.host-label"))
    port = harness.free_port()
    addr = "tcp://127.0.0.1:%d" % port
    rnd = random.Random(19)
    with Daemon("--syslog.listen=" + addr, "--metrics.host-label") as d:
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        streams = [bytearray(), bytearray()]
        for i, line in enumerate(lines):
            msg = ("<22>" + line).encode()
            s = streams[i % 2]
            if rnd.random() < 0.5:
                s += b"%d %s" % (len(msg), msg)
            else:
                s += msg + (b"\r\n" if rnd.random() < 0.1 else b"\n")
        for c, s in zip(conns, streams):
            pos = 0
            while pos < len(s):
                k = rnd.choice((1, 2, 7, 100, 4096, 65536))
                c.sendall(bytes(s[pos:pos + k]))
                pos += k
        m = wait_counts(d, want)
        check_equal(status(m), want, "tcp")
        assert listener(m, "maillog_syslog_messages_total", addr) == len(lines)
        assert listener(m, "maillog_syslog_malformed_messages_total", addr) == 0
        assert listener(m, "maillog_syslog_connections_total", addr) == 2
        for c in conns:
            c.close()
        d.wait_for(lambda m: listener(m, "maillog_syslog_open_connections", addr) == 0,
                   DEADLINE)


def test_rfc5424_over_tcp():
    """RFC 5424 messages count as the same lines in a file do."""
    lines = []
    for i, line in enumerate(mail_lines(500)):
        stamp, host, rest = split_line(line)
        tag, msg = rest.split(": ", 1)
        app = tag.split("[")[0]
        lines.append("<22>1 2026-11-28T14:10:%02d.%06d+00:00 %s %s 4242 - - %s"
                     % (i % 60, i, host, app, msg))
    want = status(once_metrics(lines, "--metrics.host-label"))
    assert want, "the RFC 5424 lines count nothing in --once"
    port = harness.free_port()
    addr = "tcp://127.0.0.1:%d" % port
    with Daemon("--syslog.listen=" + addr, "--metrics.host-label") as d:
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"".join(b"%d %s" % (len(m), m) for m in (x.encode() for x in lines)))
            m = wait_counts(d, want)
        check_equal(status(m), want, "rfc5424")


def test_udp_received_plus_dropped_equals_sent():
    """A burst of datagrams: what the listener received plus what the kernel
    says it dropped (SO_RXQ_OVFL) adds up to what was sent. The drop count
    arrives with the next datagram, so more are sent, counted, until the
    sum reaches the total sent."""
    lines = mail_lines(20000)
    port = free_udp_port()
    addr = "udp://127.0.0.1:%d" % port
    with Daemon("--syslog.listen=" + addr) as d:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        for line in lines:
            s.sendto(("<22>" + line).encode(), ("127.0.0.1", port))
            sent += 1
        probe = ("<22>" + lines[0]).encode()
        deadline = time.monotonic() + DEADLINE
        while True:
            m = d.metrics()
            got = listener(m, "maillog_syslog_messages_total", addr)
            dropped = listener(m, "maillog_syslog_dropped_datagrams_total", addr)
            if got + dropped == sent or time.monotonic() > deadline:
                break
            if got + dropped > sent:
                break
            s.sendto(probe, ("127.0.0.1", port))
            sent += 1
            time.sleep(0.05)
        print("# udp: %d sent, %d received, %d dropped by the kernel" % (sent, got, dropped))
        assert got + dropped == sent, "%d received + %d dropped != %d sent" % (
            got, dropped, sent)


def test_udp_counts_equal_once():
    """Datagrams sent at a pace the listener keeps up with count as --once."""
    lines = mail_lines(1000)
    want = status(once_metrics(lines))
    port = free_udp_port()
    addr = "udp://127.0.0.1:%d" % port
    with Daemon("--syslog.listen=" + addr) as d:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, line in enumerate(lines):
            s.sendto(("<22>" + line).encode(), ("127.0.0.1", port))
            if i % 50 == 49:   # let the receive queue drain: not an oracle
                d.wait_for(lambda m: listener(m, "maillog_syslog_messages_total", addr)
                           + listener(m, "maillog_syslog_dropped_datagrams_total", addr)
                           >= i + 1, DEADLINE)
        # Waits for the statuses too: a scrape reads them before the
        # listener's families, so it can show a message before its status.
        m = d.wait_for(lambda m: listener(m, "maillog_syslog_messages_total", addr)
                       + listener(m, "maillog_syslog_dropped_datagrams_total", addr)
                       >= len(lines) and status(m) == want, DEADLINE)
        assert listener(m, "maillog_syslog_dropped_datagrams_total", addr) == 0, \
            "the kernel dropped datagrams at 50 per round trip"
        check_equal(status(m), want, "udp")


def test_unixgram_syslog3_gets_local_hostname():
    """syslog(3)-style datagrams carry no hostname: they count as rsyslog's
    file of them would, with this host's (short) name in the host label.
    Sent by logger(1) and by a socket here."""
    lines = mail_lines(400)
    local = socket.gethostname().split(".")[0]
    file_lines = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "log.sock")
        addr = "unixgram:" + path
        with Daemon("--syslog.listen=" + addr, "--metrics.host-label") as d:
            assert oct(os.stat(path).st_mode & 0o777) == "0o666"
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            for i, line in enumerate(lines):
                stamp, _, rest = split_line(line)
                file_lines.append("%s %s %s" % (stamp, local, rest))
                if i % 40 == 0 and rest.split(": ", 1)[0].endswith("]"):
                    tag, msg = rest.split(": ", 1)
                    subprocess.run(["logger", "-u", path, "-p", "mail.info", "-t", tag,
                                    "--", msg], check=True)
                else:
                    s.sendto(("<22>%s %s" % (stamp, rest)).encode(), path)
            want = status(once_metrics_lines(file_lines))
            m = wait_counts(d, want)
            check_equal(status(m), want, "unixgram")
            hosts = {dict(k[1]).get("host") for k in status(m)}
            assert hosts == {local}, hosts
        assert not os.path.exists(path), "the socket file was not removed on exit"


def once_metrics_lines(lines):
    return once_metrics(lines, "--metrics.host-label")


def test_unixgram_path_rules():
    """A regular file at the path is never removed; a live socket is not
    taken over; a stale socket is replaced."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "log.sock")
        open(path, "w").close()
        rc, _, err = run("--syslog.listen=unixgram:" + path)
        assert rc != 0 and "not a socket" in err, (rc, err)
        assert os.path.isfile(path)
        os.unlink(path)
        live = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        live.bind(path)
        rc, _, err = run("--syslog.listen=unixgram:" + path)
        assert rc != 0 and "in use" in err, (rc, err)
        live.close()   # the file stays: a stale socket
        assert os.path.exists(path)
        with Daemon("--syslog.listen=unixgram:" + path) as d:
            assert "stale" in d.stderr()


def test_address_must_name_host():
    for bad, why in (("udp://:514", "names no host"), ("tcp://0.0.0.0", "no port"),
                     ("tcp://::1:514", "brackets"), ("unixgram:rel.sock", "absolute"),
                     ("http://127.0.0.1:514", "is not udp://"),
                     ("tcp://127.0.0.1:70000", "1 to 65535")):
        rc, _, err = run("--syslog.listen=" + bad)
        assert rc == 2 and why in err, (bad, rc, err)
    rc, _, err = run("--syslog.listen=udp://127.0.0.1:514", "--once", "--maillog.path=/x")
    assert rc == 2 and "--once" in err, err


def test_limits():
    """Past --syslog.max-connections a connection is closed and counted; an
    oversized message is skipped and counted and the stream resyncs (counted
    and LF)."""
    port = harness.free_port()
    addr = "tcp://127.0.0.1:%d" % port
    line = mail_lines(50)[-1]
    good = ("<22>" + harness.postfix_line(1, "550", "5.1.1")).encode()
    with Daemon("--syslog.listen=" + addr, "--syslog.max-connections=2",
                "--syslog.max-message-size=1000", "--syslog.idle-timeout=0") as d:
        a = socket.create_connection(("127.0.0.1", port))
        b = socket.create_connection(("127.0.0.1", port))
        d.wait_for(lambda m: listener(m, "maillog_syslog_open_connections", addr) == 2,
                   DEADLINE)
        c = socket.create_connection(("127.0.0.1", port))
        c.settimeout(DEADLINE)
        assert c.recv(1) == b"", "the third connection was not closed"
        m = d.wait_for(lambda m: listener(m, "maillog_syslog_refused_connections_total",
                                          addr) == 1, DEADLINE)
        assert listener(m, "maillog_syslog_refused_connections_total", addr) == 1
        big = b"<22>" + line.encode() + b"x" * 2000
        a.sendall(b"%d %s" % (len(big), big) + b"%d %s" % (len(good), good))
        a.sendall(big + b"\n" + good + b"\n")
        # A scrape reads the status families before the listener's, so one
        # can show a message counted whose status is not yet: wait for all.
        m = d.wait_for(lambda m: listener(m, "maillog_syslog_messages_total", addr) == 2 and
                       listener(m, "maillog_syslog_oversized_messages_total", addr) == 2 and
                       harness.status_counts(m) == {("550", "5.1.1"): 2}, DEADLINE)
        assert listener(m, "maillog_syslog_messages_total", addr) == 2
        assert listener(m, "maillog_syslog_oversized_messages_total", addr) == 2
        assert harness.status_counts(m) == {("550", "5.1.1"): 2}, harness.status_counts(m)
        assert listener(m, "maillog_syslog_open_connections", addr) == 2
        for s in (a, b, c):
            s.close()


def test_idle_timeout():
    """A connection silent for --syslog.idle-timeout is closed and counted;
    its slot is free again."""
    port = harness.free_port()
    addr = "tcp://127.0.0.1:%d" % port
    with Daemon("--syslog.listen=" + addr, "--syslog.idle-timeout=1",
                "--syslog.max-connections=1") as d:
        a = socket.create_connection(("127.0.0.1", port))
        a.settimeout(DEADLINE)
        assert a.recv(1) == b"", "the idle connection was not closed"
        m = d.wait_for(lambda m: listener(m, "maillog_syslog_idle_closed_connections_total",
                                          addr) == 1, DEADLINE)
        assert listener(m, "maillog_syslog_idle_closed_connections_total", addr) == 1
        assert listener(m, "maillog_syslog_open_connections", addr) == 0
        with socket.create_connection(("127.0.0.1", port)) as b:
            b.sendall(("<22>" + harness.postfix_line(3) + "\n").encode())
            m = d.wait_for(lambda m: listener(m, "maillog_syslog_messages_total", addr) == 1,
                           DEADLINE)
        assert listener(m, "maillog_syslog_refused_connections_total", addr) == 0
        a.close()


def test_malformed_counted_and_parsed():
    """No <PRI>, or no header: counted as malformed and still offered to the
    parsers as a bare line, as --once does with such a line."""
    port = free_udp_port()
    addr = "udp://127.0.0.1:%d" % port
    msgs = [b"hello", b"<22>not a header", b"", b"<999>Nov 28 14:10:01 mx postfix/smtp[1]: x",
            harness.postfix_line(2).encode()]
    with Daemon("--syslog.listen=" + addr) as d:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for msg in msgs:
            s.sendto(msg, ("127.0.0.1", port))
        m = d.wait_for(lambda m: listener(m, "maillog_syslog_messages_total", addr) == 5 and
                       harness.status_counts(m) == {("250", "2.0.0"): 1}, DEADLINE)
        assert listener(m, "maillog_syslog_messages_total", addr) == 5
        assert listener(m, "maillog_syslog_malformed_messages_total", addr) == 5
        assert harness.status_counts(m) == {("250", "2.0.0"): 1}


def test_families_only_when_configured():
    rc, out, err = run("--once", "--maillog.path=" + os.path.join(ROOT, "examples", "mail.log"))
    assert rc == 0, err
    assert "maillog_syslog_" not in out


def main():
    harness.require_binary()
    cases = harness.Cases()
    for fn in (test_address_must_name_host, test_families_only_when_configured,
               test_tcp_framing_both_ways, test_rfc5424_over_tcp, test_udp_counts_equal_once,
               test_udp_received_plus_dropped_equals_sent,
               test_unixgram_syslog3_gets_local_hostname, test_unixgram_path_rules,
               test_limits, test_idle_timeout, test_malformed_counted_and_parsed):
        cases.run(fn)
    cases.finish()


if __name__ == "__main__":
    main()
