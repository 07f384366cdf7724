"""Which runs load libmicrohttpd (with GnuTLS) and libsystemd.

The exporter dlopens them where a feature first needs them
(util/dynload.h): `--once` and `report` need neither, a daemon outside
systemd and without --journal needs no libsystemd. Here the binary runs
with LD_LIBRARY_PATH naming a directory that holds a library of that soname
with none of the functions (tests/fakelib): a run that loads it fails,
naming the library and the first missing function; a run that does not
works as it does without the fake. The daemon cases show that the fake is
what dlopen finds, so the `--once` and `report` cases cannot pass by the
fake being ignored.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import harness

harness.require_binary()
cases = harness.Cases()
TESTS_DIR = os.environ.get("TESTS_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GOLDEN = os.path.join(TESTS_DIR, "data", "postfix", "golden.txt")
FAKE_MHD = os.environ["FAKE_MHD_DIR"]
FAKE_SYSTEMD = os.environ["FAKE_SYSTEMD_DIR"]
HAVE_LIBSYSTEMD = os.environ.get("HAVE_LIBSYSTEMD", "1") == "1"


def env_with(*dirs, **extra):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    env["LD_LIBRARY_PATH"] = ":".join(dirs)
    env.update(extra)
    return env


def run(args, env, timeout=60):
    p = subprocess.run([harness.BIN] + args, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def without_clock(exposition):
    """The samples that tell the process or the clock differ run to run
    (the time the last line was read moves on when the two runs straddle
    a second)."""
    return [l for l in exposition.splitlines()
            if not l.startswith(("process_", "maillog_lag_seconds",
                                 "maillog_last_line_read_timestamp_seconds"))]


def test_once_loads_neither():
    real = run(["--once", "--maillog.path=" + GOLDEN], env_with())
    fake = run(["--once", "--maillog.path=" + GOLDEN], env_with(FAKE_MHD, FAKE_SYSTEMD))
    assert real[0] == 0, real
    assert fake[0] == 0, fake
    assert "maillog_smtp_status_total{" in fake[1], fake[1][:500]
    assert without_clock(fake[1]) == without_clock(real[1])
    assert "libmicrohttpd" not in fake[2] and "libsystemd" not in fake[2], fake[2]


def test_report_loads_neither():
    for args in (["report", GOLDEN], ["report", "--json", GOLDEN]):
        real = run(args, env_with())
        fake = run(args, env_with(FAKE_MHD, FAKE_SYSTEMD))
        assert real[0] == 0, (args, real)
        assert fake == real, (args, fake[2])


def test_daemon_names_the_missing_function():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        rc, _, err = run(["--maillog.path=" + log,
                          "--web.listen-address=127.0.0.1:%d" % harness.free_port()],
                         env_with(FAKE_MHD))
    assert rc == 1, (rc, err)
    assert "cannot serve HTTP: libmicrohttpd.so.12 has no symbol MHD_" in err, err


def test_tls_config_names_the_missing_function():
    """GnuTLS is loaded to check a certificate and key, through
    libmicrohttpd: a config with TLS needs it before the server does."""
    with tempfile.TemporaryDirectory() as d:
        for name in ("server.crt", "server.key"):
            with open(os.path.join(d, name), "w") as f:
                f.write("-----BEGIN X-----\nAAAA\n-----END X-----\n")
        cfg = os.path.join(d, "web.yml")
        with open(cfg, "w") as f:
            f.write("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        rc, out, err = run(["--web.config.file=" + cfg, "--check-config"], env_with(FAKE_MHD))
    assert rc == 1, (rc, out, err)
    assert ":2: cert_file %s/server.crt: libmicrohttpd.so.12 has no symbol MHD_" % d in err, err


def test_journal_names_the_missing_function():
    if not HAVE_LIBSYSTEMD:
        print("  (skipped: built without libsystemd, --journal is refused)")
        return
    with tempfile.TemporaryDirectory() as d:
        rc, _, err = run(["--journal", "--journal.directory=" + d,
                          "--web.listen-address=127.0.0.1:%d" % harness.free_port()],
                         env_with(FAKE_SYSTEMD))
    assert rc == 1, (rc, err)
    assert "--journal: libsystemd.so.0 has no symbol sd_journal_" in err, err


def serve(log, env):
    """The daemon with env; (process, address) once /healthz answers."""
    port = harness.free_port()
    errfile = tempfile.TemporaryFile()
    proc = subprocess.Popen([harness.BIN, "--maillog.path=" + log,
                             "--web.listen-address=127.0.0.1:%d" % port],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=errfile)
    deadline = time.monotonic() + 10
    while True:
        assert proc.poll() is None, "daemon exited %s" % proc.returncode
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, errfile
        except OSError:
            pass
        assert time.monotonic() < deadline, "the daemon did not answer"
        time.sleep(0.02)


def stop(proc, errfile):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=10)
    errfile.seek(0)
    return rc, errfile.read().decode("utf-8", "replace")


def test_daemon_outside_systemd_loads_no_libsystemd():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        proc, errfile = serve(log, env_with(FAKE_SYSTEMD))
        proc.send_signal(signal.SIGHUP)
        rc, err = stop(proc, errfile)
    assert rc == 0, (rc, err)
    assert "libsystemd" not in err, err


def test_notify_without_libsystemd_says_so_once_and_serves():
    """Under systemd (NOTIFY_SOCKET) a libsystemd that cannot be loaded is
    an error in the log, said once for the READY, RELOADING, READY and
    STOPPING the daemon would have sent, and the metrics are served."""
    if not HAVE_LIBSYSTEMD:
        print("  (skipped: built without libsystemd, sd_notify is compiled out)")
        return
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(d, "notify.sock"))
        try:
            proc, errfile = serve(log, env_with(FAKE_SYSTEMD,
                                                NOTIFY_SOCKET=os.path.join(d, "notify.sock")))
            proc.send_signal(signal.SIGHUP)
            rc, err = stop(proc, errfile)
            sock.setblocking(False)
            try:
                got = sock.recv(4096)
            except BlockingIOError:
                got = None
        finally:
            sock.close()
    assert rc == 0, (rc, err)
    assert "SIGHUP" in err or "reload" in err, err
    want = "cannot tell systemd our state: libsystemd.so.0 has no symbol sd_"
    assert err.count(want) == 1, err
    assert got is None, got


for t in (test_once_loads_neither, test_report_loads_neither,
          test_daemon_names_the_missing_function, test_tls_config_names_the_missing_function,
          test_journal_names_the_missing_function,
          test_daemon_outside_systemd_loads_no_libsystemd,
          test_notify_without_libsystemd_says_so_once_and_serves):
    cases.run(t)
cases.finish()
