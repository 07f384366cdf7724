"""--config.file and --check-config: custom parsers counted by the real
daemon, SIGHUP reloads (a good file takes effect, a bad one is refused
and the old parsers keep counting), and Exim's rejectlog never counted
twice beside the mainlog."""
import os
import signal
import tempfile
import time

import harness
from harness import run, value

harness.require_binary()
cases = harness.Cases()

EXAMPLE = os.path.join(os.environ.get("TESTS_DIR", os.path.dirname(__file__) + "/.."),
                       "..", "deploy", "custom-parsers.example.yml")

ACME = """parsers:
  - mta: acme
    direction: outbound
    tag: acme
    patterns: ['result=(?<outcome>\\w+) code=(?<code>\\d{3})']
"""
ACME_BETA = ACME + """  - mta: beta
    direction: inbound
    match: "BETA-REJECT "
    patterns: ['BETA-REJECT (?<code>\\d{3}) (?<enhanced>\\d\\.\\d+\\.\\d+)']
"""
BAD = ACME + """  - mta: beta
    direction: inbound
    patterns: ['BETA-REJECT (?<code>\\d{3}']
"""


def acme_line(n, code=250):
    return "Nov 28 14:10:%02d mx acme[7]: result=sent code=%d id=%d\n" % (n % 60, code, n)


def beta_line(n):
    return "Nov 28 14:10:%02d gw beta[8]: BETA-REJECT 554 5.7.1 id=%d\n" % (n % 60, n)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def count(m, mta, direction="outbound", code="250"):
    return sum(v for (name, labels), v in m.items()
               if name == "maillog_smtp_status_total" and dict(labels).get("mta") == mta
               and dict(labels).get("direction") == direction
               and dict(labels).get("code") == code)


def wait_stderr(d, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in d.stderr():
        if time.monotonic() > deadline:
            raise AssertionError("no %r in stderr: %s" % (text, d.stderr()))
        time.sleep(0.05)


def test_check_config_example_ok():
    rc, out, err = run("--config.file=" + EXAMPLE, "--check-config")
    assert rc == 0, (rc, err)
    assert "configuration OK" in out and "haraka, kumomta, mailgw" in out, out


def test_check_config_without_file_ok():
    rc, out, err = run("--check-config")
    assert rc == 0 and "configuration OK" in out, (rc, out, err)


def test_check_config_bad():
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "bad.yml")
        write(cfg, BAD)
        rc, out, err = run("--config.file=" + cfg, "--check-config")
        assert rc == 1, (rc, err)
        assert out == "", out
        want = ("%s:8: mta \"beta\": pattern 1: pattern error at offset 25: "
                "missing closing parenthesis" % cfg)
        assert want in err, err
        write(cfg, "parsers:\n  - mta: acme\n    direction: sideways\n"
                   "    patterns: ['(?<code>\\d+)']\n")
        rc, _, err = run("--config.file=" + cfg, "--check-config")
        assert rc == 1 and ("%s:3: mta \"acme\": direction \"sideways\"" % cfg) in err, err
        rc, _, err = run("--config.file=" + os.path.join(d, "missing.yml"), "--check-config")
        assert rc == 1 and "missing.yml: cannot open: No such file or directory" in err, err
        # The daemon itself refuses to start on a bad file, with the same line.
        rc, _, err = run("--config.file=" + cfg, "--once", "--maillog.path=/dev/null")
        assert rc == 1 and ("%s:3:" % cfg) in err, (rc, err)


def test_format_names_custom_parser():
    with tempfile.TemporaryDirectory() as d:
        cfg, log = os.path.join(d, "c.yml"), os.path.join(d, "mail.log")
        write(cfg, ACME)
        write(log, acme_line(1) + harness.postfix_line(2))
        rc, out, err = run("--config.file=" + cfg, "--maillog.format=acme", "--once",
                           "--maillog.path=" + log)
        assert rc == 0, err
        m = harness.parse_metrics(out)
        assert count(m, "acme") == 1 and count(m, "postfix") == 0, out
        rc, _, err = run("--config.file=" + cfg, "--maillog.format=nosuch", "--check-config")
        assert rc == 1 and "--maillog.format: unknown format \"nosuch\"" in err, err


def test_daemon_counts_and_reloads():
    with tempfile.TemporaryDirectory() as d:
        cfg, log = os.path.join(d, "c.yml"), os.path.join(d, "mail.log")
        write(cfg, ACME)
        write(log, "".join(acme_line(i) for i in range(3)) + beta_line(0))
        with harness.Daemon("--config.file=" + cfg, "--maillog.path=" + log,
                            "--maillog.start=beginning") as dm:
            m = dm.wait_for(lambda m: count(m, "acme") == 3)
            assert count(m, "acme") == 3, m
            assert value(m, "maillog_unmatched_lines_total", mta="acme") == 0, m
            # beta is not defined yet: its line is nobody's.
            assert count(m, "beta", "inbound", "554") == 0

            # A good new file: beta counts from the reload on, acme carries on.
            write(cfg, ACME_BETA)
            dm.proc.send_signal(signal.SIGHUP)
            wait_stderr(dm, "SIGHUP: reloaded %s; custom parsers: acme, beta" % cfg)
            append(log, beta_line(1) + beta_line(2) + acme_line(4, 451))
            m = dm.wait_for(lambda m: count(m, "beta", "inbound", "554") == 2
                            and count(m, "acme", code="451") == 1)
            assert count(m, "beta", "inbound", "554") == 2, m
            assert count(m, "acme", code="451") == 1, m
            assert count(m, "acme") == 3, m

            # A bad file: refused with its line, the running parsers keep counting.
            write(cfg, BAD)
            dm.proc.send_signal(signal.SIGHUP)
            wait_stderr(dm, "reload refused, the running parsers carry on: %s:8:" % cfg)
            append(log, beta_line(3) + acme_line(5))
            m = dm.wait_for(lambda m: count(m, "beta", "inbound", "554") == 3
                            and count(m, "acme") == 4)
            assert count(m, "beta", "inbound", "554") == 3, m
            assert count(m, "acme") == 4, m
            assert dm.proc.poll() is None
        assert dm.proc.returncode == 0, dm.stderr()


def test_custom_unmatched_counted():
    with tempfile.TemporaryDirectory() as d:
        cfg, log = os.path.join(d, "c.yml"), os.path.join(d, "mail.log")
        write(cfg, ACME_BETA)
        write(log, beta_line(1) + "Nov 28 14:10:01 gw beta[8]: BETA-REJECT garbled\n"
              + "Nov 28 14:10:01 gw beta[8]: starting\n")
        rc, out, err = run("--config.file=" + cfg, "--once", "--maillog.path=" + log)
        assert rc == 0, err
        m = harness.parse_metrics(out)
        assert value(m, "maillog_unmatched_lines_total", mta="beta") == 1, out
        assert value(m, "maillog_unmatched_lines_total", mta="acme") == 0, out
        assert count(m, "beta", "inbound", "554") == 1, out


def test_exim_rejectlog_not_counted_twice():
    reject = ("2026-11-28 14:10:01 H=(client.example) [192.0.2.1] F=<a@example.com> "
              "rejected RCPT <u@example.org>: relay not permitted\n")
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "exim4"))
        main, rej = os.path.join(d, "exim4", "mainlog"), os.path.join(d, "exim4", "rejectlog")
        write(main, reject)
        write(rej, reject + "Envelope-from: <a@example.com>\nEnvelope-to: <u@example.org>\n")
        rc, out, err = run("--once", "--maillog.path=" + main, "--maillog.path=" + rej)
        assert rc == 0, err
        assert ("not following %s: it is Exim's rejectlog" % rej) in err, err
        m = harness.parse_metrics(out)
        n = sum(v for (name, labels), v in m.items()
                if name == "maillog_smtp_status_total" and dict(labels)["mta"] == "exim")
        assert n == 1, out
        assert value(m, "maillog_lines_read_total", path=rej) is None, out
        # Alone, the rejectlog is followed, with a warning that it lacks deliveries.
        rc, out, err = run("--once", "--maillog.path=" + rej)
        assert rc == 0 and "holds no deliveries" in err, err


for t in (test_check_config_example_ok, test_check_config_without_file_ok,
          test_check_config_bad, test_format_names_custom_parser,
          test_daemon_counts_and_reloads, test_custom_unmatched_counted,
          test_exim_rejectlog_not_counted_twice):
    cases.run(t)
cases.finish()
