"""README.md, "See it work first": the commands it shows, run exactly as
written, from a folder laid out like the source tree after the build it
names (build-release/daemon/maillog_exporter is the binary under test,
examples/ is the shipped example).

- the serve command counts every line of examples/mail.log, serves the
  same maillog_smtp_status_total as --once over the file, and a status
  page that names every MTA in it; it stops on SIGTERM by PID with exit 0;
- the report command exits 0 and states the same totals as --once;
- the example holds the four MTAs, each line counted or at least matched
  (no unmatched line), and no address outside the documentation ranges.
"""
import ipaddress
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import harness

harness.require_binary()
cases = harness.Cases()
SRC = os.path.normpath(os.path.join(os.environ["TESTS_DIR"], ".."))
README = os.path.join(SRC, "README.md")
EXAMPLE = os.path.join(SRC, "examples", "mail.log")
MARK = "<!-- tests/blackbox/test_readme_example.py runs"
MTAS = ("postfix", "exim", "sendmail", "opensmtpd")


def readme_commands():
    """The shell blocks of the section that carries the marker: the first
    serves the example, the second reports on it."""
    text = open(README).read()
    at = text.index(MARK)
    end = text.find("\n## ", at)
    blocks = re.findall(r"```sh\n(.*?)```", text[at:end], re.S)
    assert len(blocks) == 2, blocks
    cmds = [" ".join(b.replace("\\\n", " ").split()) for b in blocks]
    return cmds


def layout(d):
    """The source tree after the README's build: the binary where the
    README's command finds it, the example where it names it."""
    os.makedirs(os.path.join(d, "build-release", "daemon"))
    os.symlink(harness.BIN, os.path.join(d, "build-release", "daemon", "maillog_exporter"))
    os.symlink(os.path.dirname(EXAMPLE), os.path.join(d, "examples"))


def once():
    rc, out, err = harness.run("--once", "--maillog.path=" + EXAMPLE)
    assert rc == 0, err
    return out


def statuses(text):
    return {labels: v for (name, labels), v in harness.parse_metrics(text).items()
            if name == "maillog_smtp_status_total"}


def value(text, name, **want):
    return sum(v for (n, labels), v in harness.parse_metrics(text).items() if n == name and
               all(dict(labels).get(k) == w for k, w in want.items()))


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode("utf-8", "replace")


def test_example_is_the_four_mtas_on_documentation_addresses():
    text = open(EXAMPLE).read()
    lines = text.splitlines()
    assert 200 <= len(lines) <= 1000, len(lines)
    out = once()
    for mta in MTAS:
        assert value(out, "maillog_smtp_status_total", mta=mta) > 0, mta
        assert value(out, "maillog_unmatched_lines_total", mta=mta) == 0, mta
    # RFC 5737 and RFC 3849 documentation ranges only (and no loopback or
    # private address from the machine the MTAs ran on).
    docs = [ipaddress.ip_network(n) for n in
            ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
    # Where the four MTAs write an address: [a.b.c.d] (Postfix, Exim,
    # Sendmail) and address=/relay= (OpenSMTPD). Version numbers such as
    # Sendmail's (8.17.1.9) are not addresses.
    found = set(re.findall(r"(?:\[|\baddress=|\brelay=)(?:IPv6:)?"
                       r"(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]*:[0-9a-fA-F:]+)", text))
    assert found, "no address found in the example"
    for ip in found:
        addr = ipaddress.ip_address(ip)
        assert any(addr in n for n in docs), ip


def test_serve_command():
    serve, _ = readme_commands()
    assert "--maillog.path=examples/mail.log" in serve and "--maillog.start=beginning" in serve
    m = re.search(r"--web.listen-address=([\d.]+):(\d+)", serve)
    assert m, serve
    host, port = m.group(1), int(m.group(2))
    with socket.socket() as s:
        if s.connect_ex((host, port)) == 0:
            raise AssertionError("%s:%d is taken: the README's command listens there" %
                                 (host, port))
    nlines = len(open(EXAMPLE).read().splitlines())
    want = statuses(once())
    with tempfile.TemporaryDirectory() as d:
        layout(d)
        p = subprocess.Popen(["bash", "-c", "exec " + serve], cwd=d,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            base = "http://%s:%d" % (host, port)
            deadline = time.monotonic() + 60
            text = ""
            while time.monotonic() < deadline:
                assert p.poll() is None, p.stderr.read().decode()
                try:
                    text = get(base + "/metrics")[1]
                except OSError:
                    time.sleep(0.1)
                    continue
                if value(text, "maillog_lines_read_total") == nlines:
                    break
                time.sleep(0.1)
            assert value(text, "maillog_lines_read_total") == nlines, (
                value(text, "maillog_lines_read_total"), nlines)
            assert statuses(text) == want, (statuses(text), want)
            status, page = get(base + "/")
            assert status == 200, status
            for mta in MTAS:
                assert mta in page, mta
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
        assert rc == 0, (rc, p.stderr.read().decode())


def test_report_command():
    _, report = readme_commands()
    assert report.endswith("report examples/mail.log"), report
    with tempfile.TemporaryDirectory() as d:
        layout(d)
        p = subprocess.run(["bash", "-c", report], cwd=d, capture_output=True, text=True,
                           timeout=60)
    assert p.returncode == 0, p.stderr
    out = once()
    m = re.search(r"^Statuses: +(\d+) \(outbound (\d+), inbound (\d+)\)$", p.stdout, re.M)
    assert m, p.stdout[:600]
    want = [int(value(out, "maillog_smtp_status_total", **d))
            for d in ({}, {"direction": "outbound"}, {"direction": "inbound"})]
    assert [int(g) for g in m.groups()] == want, (m.groups(), want)


for fn in (test_example_is_the_four_mtas_on_documentation_addresses,
           test_serve_command,
           test_report_command):
    cases.run(fn)
cases.finish()
