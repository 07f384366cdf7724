"""What the families that replace postfix_exporter's and exim_exporter's
must get right where those did not, one case per known bug of theirs:

- every delay stage labelled with its own stage (postfix_exporter 0.3 put
  every Postfix SMTP delay under stage="");
- delays observed on final outcomes only (not on each deferral);
- no family exposed that no real line ever increments, none twice, no
  counter without _total (checked on every golden line of every MTA, and
  with promtool when it is installed);
- nested service names (postfix/submission/smtpd, postfix-out/smtp);
- the operational families stay outside the series cap;
- Exim's panic log (--exim.paniclog), created after the start as Exim does.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

import harness
from harness import Cases, Daemon, parse_metrics, run, value

harness.require_binary()
TESTS_DIR = os.environ.get("TESTS_DIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))


def once(lines, *flags):
    tmp = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    try:
        tmp.write("".join(line + "\n" for line in lines))
        tmp.close()
        rc, out, err = run("--once", "--maillog.path=" + tmp.name, *flags)
        assert rc == 0, err
        return out
    finally:
        os.unlink(tmp.name)


def golden_lines():
    """Every log line of every golden file (tests/data/*/golden.txt)."""
    lines = []
    for mta in ("postfix", "exim", "sendmail", "opensmtpd", "mixed"):
        with open(os.path.join(TESTS_DIR, "data", mta, "golden.txt"),
                  encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line[0] == "#" or line[:3] in ("=> ", "+> ") or \
                        line.startswith("op> "):
                    continue
                lines.append(line)
    return lines


def test_delay_stages_labelled():
    out = parse_metrics(once([
        "Nov 28 14:10:01 mx1 postfix/smtp[2101]: 4F2A31C0B3: to=<a@example.org>, "
        "relay=mx.example.org[192.0.2.25]:25, delay=10, delays=1/2/3/4, dsn=2.0.0, "
        "status=sent (250 2.0.0 Ok)"]))
    want = {"total": 10, "before_qmgr": 1, "in_qmgr": 2, "conn_setup": 3,
            "transmission": 4}
    for stage, v in want.items():
        got = value(out, "maillog_delivery_delay_seconds_sum", mta="postfix", stage=stage)
        assert got == v, (stage, got)
    assert value(out, "maillog_delivery_delay_seconds_count", mta="postfix",
                 stage="") is None


def test_delays_on_final_outcomes_only():
    deferred = ("Nov 28 14:10:02 mx1 postfix/smtp[2102]: 5B1E2D3C: to=<b@example.net>, "
                "relay=mx.example.net[198.51.100.7]:25, delay=300, "
                "delays=0.1/0/0.2/299, dsn=4.7.1, status=deferred "
                "(host mx.example.net[198.51.100.7] said: 450 4.7.1 Greylisted "
                "(in reply to RCPT TO command))")
    sent = deferred.replace("delay=300", "delay=900").replace(
        "dsn=4.7.1, status=deferred", "dsn=2.0.0, status=sent").replace(
        "(host mx.example.net[198.51.100.7] said: 450 4.7.1 Greylisted "
        "(in reply to RCPT TO command))", "(250 2.0.0 Ok)")
    out = parse_metrics(once([deferred, deferred, sent]))
    assert value(out, "maillog_delivery_delay_seconds_count", mta="postfix",
                 stage="total") == 1
    assert value(out, "maillog_delivery_delay_seconds_sum", mta="postfix",
                 stage="total") == 900


def test_delay_by_destination():
    """postfix_exporter kept LMTP and pipe delays apart from SMTP's: the
    destination split does the same."""
    out = parse_metrics(once([
        "Nov 28 14:10:01 mx1 postfix/smtp[2101]: 4F2A31C0B3: to=<a@example.org>, "
        "relay=mx.example.org[192.0.2.25]:25, delay=10, delays=1/2/3/4, dsn=2.0.0, "
        "status=sent (250 2.0.0 Ok)",
        "Nov 28 14:10:02 mx1 postfix/lmtp[2102]: 5C2B41D0C4: to=<b@example.net>, "
        "relay=mail.example.net[private/dovecot-lmtp], delay=0.5, "
        "delays=0.1/0.1/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 <b@example.net> "
        "Saved)",
        "Nov 28 14:10:03 mx1 postfix/qmgr[2103]: 6D3C52E1D5: from=<c@example.com>, "
        "status=expired, returned to sender"]))
    fam = "maillog_delivery_delay_by_destination_seconds_sum"
    assert value(out, fam, mta="postfix", destination="remote", stage="total") == 10
    assert value(out, fam, mta="postfix", destination="local", stage="total") == 0.5
    assert value(out, fam, mta="postfix", destination="local", stage="transmission") == 0.2
    assert value(out, fam, mta="postfix", destination="filter", stage="total") is None
    assert value(out, "maillog_delivery_delay_seconds_sum", mta="postfix",
                 stage="total") == 10.5


def families(text):
    """{name: (type, [sample lines])} of a text exposition; fails on a
    family declared twice."""
    fams, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)$", line)
        if m:
            assert m.group(1) not in fams, "family twice: " + m.group(1)
            cur = m.group(1)
            fams[cur] = (m.group(2), [])
        elif line and not line.startswith("#"):
            fams[cur][1].append(line)
    return fams


# Families that legitimately have no sample after one --once run over good
# lines: each is about something the golden lines cannot show.
NOT_FROM_LINES = {
    "maillog_exporter_scrape_duration_seconds",  # no previous scrape in --once
}


def test_every_family_fed_and_well_formed():
    with tempfile.TemporaryDirectory() as tmp:
        panic = os.path.join(tmp, "paniclog")
        with open(panic, "w") as f:
            f.write("2026-11-28 14:10:01 daemon: fork of queue-runner failed\n")
        text = once(golden_lines(), "--metrics.tls-cipher", "--exim.paniclog=" + panic)
    fams = families(text)
    empty = sorted(n for n, (_, samples) in fams.items()
                   if not samples and n not in NOT_FROM_LINES)
    assert not empty, "families no golden line feeds: %s" % empty
    for name, (typ, samples) in fams.items():
        if typ == "counter":
            assert name.endswith("_total"), "counter without _total: " + name
        for s in samples:
            assert s.split("{")[0].split(" ")[0].startswith(name), (name, s)
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if os.access(promtool, os.X_OK):
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), \
            (p.stdout.decode()[:2000], p.stderr.decode()[:2000])


def test_nested_service_names():
    lines = [
        "Nov 28 14:10:00 mx1 postfix/submission/smtpd[300]: connect from "
        "client.example.com[192.0.2.10]",
        "Nov 28 14:10:01 mx1 postfix-in/smtpd[301]: connect from "
        "client.example.com[192.0.2.11]",
        "Nov 28 14:10:02 mx1 postfix-out/smtp[3100]: 4YzMZ12wYRzKmcD: "
        "to=<news@list.example.net>, relay=list.example.net[198.51.100.20]:25, "
        "delay=0.3, delays=0.01/0.01/0.1/0.18, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        "Nov 28 14:10:03 mx1 postfix/relay/smtp[3101]: 8E1F2A: to=<it@branch.example.com>, "
        "relay=smarthost.example.com[192.0.2.40]:587, delay=0.6, "
        "delays=0.02/0.01/0.3/0.27, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
    ]
    out = parse_metrics(once(lines))
    assert value(out, "maillog_smtpd_connects_total", mta="postfix") == 2
    assert value(out, "maillog_delivery_delay_seconds_count", mta="postfix",
                 stage="transmission") == 2


def test_ops_outside_series_cap():
    lines = ["Nov 28 14:10:%02d mx1 postfix/smtpd[300]: connect from "
             "c%d.example.com[192.0.2.%d]" % (i, i, i) for i in range(20)]
    lines += [harness.postfix_line(n, *harness.code_for(n)) for n in range(50)]
    out = parse_metrics(once(lines, "--metrics.max-series=1"))
    assert value(out, "maillog_smtpd_connects_total", mta="postfix") == 20
    assert value(out, "maillog_series_dropped_total") > 0


def test_exim_paniclog_followed():
    with tempfile.TemporaryDirectory() as tmp:
        main = os.path.join(tmp, "mainlog")
        panic = os.path.join(tmp, "paniclog")
        open(main, "w").close()
        with Daemon("--maillog.path=" + main, "--exim.paniclog=" + panic) as d:
            m = d.metrics()
            assert value(m, "maillog_panics_total", mta="exim") is None
            # Exim creates the panic log at its first panic.
            with open(panic, "w") as f:
                f.write("2026-11-28 14:10:01 failed to open DB file "
                        "/var/spool/exim4/db/retry: Permission denied\n"
                        "  (a continuation line)\n"
                        "2026-11-28 14:11:01 daemon: fork of queue-runner process "
                        "failed: Resource temporarily unavailable\n")
            deadline = time.monotonic() + 15
            while value(m, "maillog_panics_total", mta="exim") != 2:
                assert time.monotonic() < deadline, value(m, "maillog_panics_total",
                                                          mta="exim")
                time.sleep(0.1)
                m = d.metrics()
            # The panic log's lines are not mail lines.
            assert value(m, "maillog_unmatched_lines_total", mta="exim") in (None, 0)
    # --once: no panic log yet is no panic, not an error.
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, err = run("--once", "--maillog.path=/dev/null",
                           "--exim.paniclog=" + os.path.join(tmp, "paniclog"))
        assert rc == 0, err
        assert "does not exist: Exim has not panicked" in err, err
        assert 'maillog_source_state{path="%s",state="waiting"} 1' % os.path.join(
            tmp, "paniclog") in out, out[-2000:]
    rc, _, err = run("--once", "--maillog.path=/dev/null", "--exim.paniclog=/dev/null")
    assert rc == 2 and "--exim.paniclog=/dev/null: it is also a --maillog.path" in err, err
    rc, _, err = run("--once", "--exim.paniclog=")
    assert rc == 2 and "--exim.paniclog: empty path" in err, err


cases = Cases()
for fn in (test_delay_stages_labelled, test_delays_on_final_outcomes_only,
           test_delay_by_destination,
           test_every_family_fed_and_well_formed, test_nested_service_names,
           test_ops_outside_series_cap, test_exim_paniclog_followed):
    cases.run(fn)
cases.finish()
