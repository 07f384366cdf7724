"""The command line: --help, --version, and one clear line (exit 2) for
every unknown flag or bad value; clear errors for missing logs."""
import os
import shutil
import socket
import subprocess
import tempfile

import harness
from harness import run

harness.require_binary()
cases = harness.Cases()


def test_help():
    rc, out, err = run("--help")
    assert rc == 0, (rc, err)
    for flag in ("--maillog.path", "--maillog.start", "--maillog.format",
                 "--web.listen-address", "--web.telemetry-path", "--log.level",
                 "--log.format", "--once", "--version", ":9745"):
        assert flag in out, flag


def test_version():
    rc, out, _ = run("--version")
    assert rc == 0 and out.startswith("maillog_exporter "), out


def check_usage_error(args, fragment):
    rc, out, err = run(*args)
    assert rc == 2, (args, rc, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (args, err)
    assert fragment in lines[0], (args, lines[0])
    assert out == "", out


def test_unknown_flag():
    check_usage_error(["--maillog.pth=/x"], "unknown flag '--maillog.pth=/x'")


def test_bad_values():
    check_usage_error(["--maillog.start=middle"], "--maillog.start")
    check_usage_error(["--maillog.format=qmail"], "--maillog.format")
    check_usage_error(["--log.level=verbose"], "--log.level")
    check_usage_error(["--web.listen-address=localhost"], "--web.listen-address")
    check_usage_error(["--maillog.timezone=Mars/Olympus_Mons"], "--maillog.timezone")
    check_usage_error(["--web.telemetry-path=metrics"], "--web.telemetry-path")


def test_once_missing_file_fails():
    with tempfile.TemporaryDirectory() as d:
        missing = os.path.join(d, "nope.log")
        rc, out, err = run("--once", "--maillog.path=" + missing)
        assert rc != 0 and rc != 2, rc
        assert missing in err and "No such file" in err, err
        assert out == ""


def test_once_directory_fails():
    with tempfile.TemporaryDirectory() as d:
        rc, _, err = run("--once", "--maillog.path=" + d)
        assert rc == 1 and "directory" in err, (rc, err)


def test_port_in_use():
    with socket.socket() as s, tempfile.TemporaryDirectory() as d:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc, _, err = run("--maillog.path=" + os.path.join(d, "m.log"),
                         "--web.listen-address=127.0.0.1:%d" % port, timeout=20)
        assert rc == 1, (rc, err)
        assert "127.0.0.1:%d" % port in err and "in use" in err, err


def test_no_default_log():
    """With no --maillog.path and none of the default logs, exit with a
    message naming what was tried and how to point the exporter at a log.
    Needs a private mount namespace to hide /var/log, so root and unshare."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("     (skipped inside: needs root and unshare to hide /var/log)")
        return
    # /run too, so no journal (/run/log/journal) is there to fall back to.
    script = 'mount -t tmpfs none /var/log && mount -t tmpfs none /run && exec "$0"'
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        harness.BIN], capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.returncode, err)
    for path in ("/var/log/mail.log", "/var/log/maillog", "/var/log/exim4/mainlog",
                 "/var/log/exim/main.log", "--maillog.path", "journald"):
        assert path in err, (path, err)


def test_no_default_log_falls_back_to_journal():
    """With no log file but a journal directory, the daemon follows the
    journal instead of exiting (a build with libsystemd only)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("     (skipped inside: needs root and unshare to hide /var/log)")
        return
    if os.environ.get("HAVE_LIBSYSTEMD", "1") != "1":
        print("     (skipped inside: this build has no libsystemd)")
        return
    script = ('mount -t tmpfs none /var/log && mount -t tmpfs none /run && '
              'mkdir -p /run/log/journal && exec timeout 3 "$0" "$1"')
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        harness.BIN, "--web.listen-address=127.0.0.1:%d" % harness.free_port()],
                       capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 124, (p.returncode, err)  # still running when timeout stopped it
    assert "reading the systemd journal instead" in err, err


for t in (test_help, test_version, test_unknown_flag, test_bad_values,
          test_once_missing_file_fails, test_once_directory_fails, test_port_in_use,
          test_no_default_log, test_no_default_log_falls_back_to_journal):
    cases.run(t)
cases.finish()
