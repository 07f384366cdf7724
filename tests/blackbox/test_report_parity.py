#!/usr/bin/env python3
"""`report --json` and `--once` over the same log agree on every family
they share, the operational ones (sessions, TLS, postscreen, panics)
included.

Both read lines through one per-line path (daemon/ingest.c); this test
is what fails if the report ever counts with a copy of it again (the
report once had its own copy, which skipped the operational families, so
its sessions were all zero). The log is every golden line of every MTA (they
hold each operational shape: lost connections, timeouts, AUTH and TLS
failures, postscreen tests and hangups, panics, fatal errors), the
report's mixed log, and a generated busy Postfix log
(tests/bench/gen_log.py) for volume. Each operational figure the report
shows must be nonzero here, so the comparison cannot pass on zeros.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TESTS_DIR = os.environ.get("TESTS_DIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
GOLDEN_MTAS = ("postfix", "exim", "sendmail", "opensmtpd", "mixed")
cases = harness.Cases()
ENV = dict(os.environ, TZ="UTC")
DIRS = ("outbound", "inbound")
CLASSES = ("2xx", "4xx", "5xx")
BOTH = None   # the two runs over the test log, made once in main()


def build_log(path):
    """The golden files' log lines (not their comments and expectations),
    the report's mixed log and 3000 generated Postfix lines."""
    out = []
    for mta in GOLDEN_MTAS:
        with open(os.path.join(TESTS_DIR, "data", mta, "golden.txt"), encoding="utf-8",
                  errors="surrogateescape") as f:
            out += [line for line in f if line.strip() and not line.startswith(
                ("#", "=>", "+>"))]
    with open(os.path.join(TESTS_DIR, "data", "report", "input.log"), encoding="utf-8",
              errors="surrogateescape") as f:
        out += f.readlines()
    gen = subprocess.run([sys.executable, os.path.join(TESTS_DIR, "bench", "gen_log.py"),
                          "--lines", "3000", "--seed", "7"], capture_output=True, check=True,
                         timeout=60)
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.writelines(out)
    with open(path, "ab") as f:
        f.write(gen.stdout)


def total(m, name, **want):
    """Sum of the samples of name whose labels include want."""
    return sum(int(v) for (n, labels), v in m.items()
               if n == name and all(dict(labels).get(k) == x for k, x in want.items()))


class Both:
    def __init__(self, log):
        rc, text, err = harness.run("--once", "--maillog.path=" + log)
        assert rc == 0, err
        self.m = harness.parse_metrics(text)
        p = subprocess.run([harness.BIN, "report", "--json", log], capture_output=True,
                           env=ENV, timeout=120)
        assert p.returncode == 0, p.stderr
        self.j = json.loads(p.stdout)
        p = subprocess.run([harness.BIN, "report", log], capture_output=True, env=ENV,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        self.text = p.stdout.decode("utf-8")


def statuses():
    """Statuses by direction and class, reply codes, enhanced codes."""
    b = BOTH
    m, j = b.m, b.j
    for d in DIRS:
        for c in CLASSES:
            assert j["classes"][d][c] == total(m, "maillog_smtp_status_total",
                                               direction=d, **{"class": c}), (d, c)
        assert j["statuses"][d] == total(m, "maillog_smtp_status_total", direction=d), d
    assert j["statuses"]["total"] == total(m, "maillog_smtp_status_total")
    for key, field in (("reply_codes", "code"), ("enhanced_codes", "enhanced")):
        got = {(r["direction"], r[field]): r["count"] for r in j[key]}
        want = {}
        for (n, labels), v in m.items():
            if n == "maillog_smtp_status_total" and int(v):
                k = (dict(labels)["direction"], dict(labels)[field])
                want[k] = want.get(k, 0) + int(v)
        assert got == want, (key, sorted(set(got.items()) ^ set(want.items())))


def outcomes_reasons_received():
    b = BOTH
    m, j = b.m, b.j
    assert j["outcomes"] == {o: total(m, "maillog_outcomes_total", outcome=o)
                             for o in j["outcomes"]}
    assert sum(j["outcomes"].values()) == total(m, "maillog_outcomes_total")
    got = {(r["direction"], c, r["reason"]): r[c] for r in j["reasons"]
           for c in ("4xx", "5xx") if r[c]}
    want = {}
    for (n, labels), v in m.items():
        if n == "maillog_smtp_reason_total" and int(v):
            d = dict(labels)
            k = (d["direction"], d["class"], d["reason"])
            want[k] = want.get(k, 0) + int(v)
    assert got == want, sorted(set(got.items()) ^ set(want.items()))
    assert j["received"] == total(m, "maillog_messages_received_total")


def lines_and_unmatched():
    b = BOTH
    m, j = b.m, b.j
    assert j["lines_read"] == total(m, "maillog_lines_read_total")
    assert j["lines_too_long"] == total(m, "maillog_overlong_lines_total")
    want = {}
    for (n, labels), v in m.items():
        if n == "maillog_unmatched_lines_total" and int(v):
            want[dict(labels)["mta"]] = int(v)
    assert j["unmatched"] == want, (j["unmatched"], want)


def domains():
    """The report ranks every domain exactly and the daemon labels heavy
    hitters only (topk.h), so the names differ; the totals per class may
    not."""
    b = BOTH
    m, j = b.m, b.j
    for key, c in (("deferring_domains", "4xx"), ("bouncing_domains", "5xx")):
        assert sum(x["count"] for x in j[key]) == total(
            m, "maillog_domain_status_total", direction="outbound", **{"class": c}), key


def operational():
    """Sessions, TLS, postscreen, panics: each JSON figure against its
    family, and each nonzero in this log."""
    b = BOTH
    m, s, ps = b.m, b.j["sessions"], b.j["postscreen"]
    disconnects = total(m, "maillog_smtpd_disconnects_total")
    pairs = {
        "sessions.connects": (s["connects"], total(m, "maillog_smtpd_connects_total")),
        "sessions.disconnects": (s["disconnects"], disconnects),
        "sessions.no_quit": (s["no_quit"], disconnects - total(
            m, "maillog_smtpd_disconnects_total", reason="quit")),
        "sessions.lost": (s["lost"], total(m, "maillog_smtpd_lost_connections_total")),
        "sessions.timeouts": (s["timeouts"], total(m, "maillog_smtpd_timeouts_total")),
        "sessions.auth_failures": (s["auth_failures"],
                                   total(m, "maillog_smtpd_auth_failures_total")),
        "sessions.tls.outbound": (s["tls"]["outbound"], total(
            m, "maillog_tls_connections_total", direction="outbound")),
        "sessions.tls.inbound": (s["tls"]["inbound"], total(
            m, "maillog_tls_connections_total", direction="inbound")),
        "sessions.tls_failures": (s["tls_failures"], total(m, "maillog_tls_failures_total")),
        "sessions.panics": (s["panics"], total(m, "maillog_panics_total")),
        "sessions.fatal_errors": (s["fatal_errors"], total(m, "maillog_fatal_errors_total")),
        "postscreen.connects": (ps["connects"], total(m, "maillog_postscreen_connects_total")),
        "postscreen.passes.new": (ps["passes"]["new"], total(
            m, "maillog_postscreen_passes_total", kind="new")),
        "postscreen.passes.old": (ps["passes"]["old"], total(
            m, "maillog_postscreen_passes_total", kind="old")),
        "postscreen.test_failures": (ps["test_failures"],
                                     total(m, "maillog_postscreen_test_failures_total")),
        "postscreen.hangups": (ps["hangups"], total(m, "maillog_postscreen_hangups_total")),
    }
    for name, (report, once) in pairs.items():
        assert once > 0, ("the test log has no " + name, pairs)
        assert report == once, (name, "report", report, "--once", once)


def text_shows_them():
    """The text report prints the JSON's session and postscreen figures."""
    b = BOTH
    s, ps = b.j["sessions"], b.j["postscreen"]
    for what, n in (("client connections", s["connects"]),
                    ("TLS sessions in", s["tls"]["inbound"]),
                    ("TLS sessions out", s["tls"]["outbound"]),
                    ("MTA panics and fatal errors", s["panics"] + s["fatal_errors"]),
                    ("passed, new (PASS NEW)", ps["passes"]["new"]),
                    ("hung up during the tests", ps["hangups"])):
        line = "  %-28s %9d" % (what, n)
        assert any(x.startswith(line) for x in b.text.splitlines()), (line, b.text)


def main():
    harness.require_binary()
    tmp = tempfile.mkdtemp(prefix="maillog-report-parity-")
    try:
        log = os.path.join(tmp, "mail.log")
        build_log(log)
        global BOTH
        BOTH = Both(log)
        for fn in (statuses, outcomes_reasons_received, lines_and_unmatched, domains,
                   operational, text_shows_them):
            cases.run(fn)
    finally:
        shutil.rmtree(tmp)
    cases.finish()


if __name__ == "__main__":
    main()
