"""sd_notify for Type=notify units: the daemon tells a NOTIFY_SOCKET
listener READY=1 once it serves HTTP, RELOADING=1 then READY=1 around a
SIGHUP, and STOPPING=1 at shutdown, each from its main PID (the unit has
NotifyAccess=main). The listener is a unix datagram socket in a temp dir,
as systemd's is."""
import os
import signal
import socket
import struct
import tempfile
import time

import harness

harness.require_binary()
if os.environ.get("HAVE_LIBSYSTEMD", "1") != "1":
    print("SKIP: built without libsystemd, so sd_notify is compiled out")
    raise SystemExit(harness.SKIP)
cases = harness.Cases()


class Listener:
    """A NOTIFY_SOCKET: collects (pid, {key: value}) per datagram."""

    def __init__(self, d):
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def recv(self, timeout=10):
        self.sock.settimeout(timeout)
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1)
                      for line in data.decode().splitlines() if line)
        return pid, fields

    def close(self):
        self.sock.close()


def start(listener, log):
    os.environ["NOTIFY_SOCKET"] = listener.path
    try:
        return harness.Daemon("--maillog.path=" + log)
    finally:
        del os.environ["NOTIFY_SOCKET"]


def test_ready_after_http_then_reload_and_stop():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        lst = Listener(d)
        daemon = start(lst, log)
        try:
            pid, f = lst.recv()
            assert f.get("READY") == "1", f
            assert pid == daemon.proc.pid, (pid, daemon.proc.pid)
            assert "STATUS" in f, f
            # Ready means ready: one request, no retry, must be answered.
            status, _, _ = daemon.get("/metrics")
            assert status == 200, status

            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            daemon.proc.send_signal(signal.SIGHUP)
            pid, f = lst.recv()
            after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            assert f.get("RELOADING") == "1", f
            assert pid == daemon.proc.pid, pid
            assert before <= int(f["MONOTONIC_USEC"]) <= after, (before, f, after)
            pid, f = lst.recv()
            assert f.get("READY") == "1", f

            daemon.proc.send_signal(signal.SIGTERM)
            pid, f = lst.recv()
            assert f.get("STOPPING") == "1", f
            assert pid == daemon.proc.pid, pid
            assert daemon.proc.wait(timeout=10) == 0, daemon.stderr()
        finally:
            daemon.stop()
            lst.close()
        assert "sd_notify" not in daemon.stderr(), daemon.stderr()


def test_listener_gone_is_not_fatal():
    """systemd restarting under us (socket removed) must not stop the
    exporter: it logs the failed notification and keeps serving."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        lst = Listener(d)
        daemon = start(lst, log)
        try:
            _, f = lst.recv()
            assert f.get("READY") == "1", f
            lst.close()
            os.unlink(lst.path)
            daemon.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "sd_notify" not in daemon.stderr():
                assert time.monotonic() < deadline, daemon.stderr()
                time.sleep(0.05)
            status, _, _ = daemon.get("/metrics")
            assert status == 200, status
            assert daemon.proc.poll() is None
        finally:
            assert daemon.stop() == 0, daemon.stderr()


def test_no_notify_socket_no_messages():
    """Outside systemd the calls are no-ops: the daemon runs, reloads and
    stops cleanly, and logs nothing about sd_notify."""
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        os.environ.pop("NOTIFY_SOCKET", None)
        daemon = harness.Daemon("--maillog.path=" + log)
        try:
            daemon.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "SIGHUP" not in daemon.stderr():
                assert time.monotonic() < deadline, daemon.stderr()
                time.sleep(0.05)
        finally:
            assert daemon.stop() == 0, daemon.stderr()
        assert "sd_notify" not in daemon.stderr(), daemon.stderr()


cases.run(test_ready_after_http_then_reload_and_stop)
cases.run(test_listener_gone_is_not_fatal)
cases.run(test_no_notify_socket_no_messages)
cases.finish()
