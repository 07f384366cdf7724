#!/usr/bin/env python3
"""`maillog_exporter report`: golden text and JSON for a mixed log
(Postfix, Exim, Sendmail, OpenSMTPD), the same report from the log
gzip-compressed, split in two files and on standard input, agreement with
`--once` (the same parsers and counters), and the errors.

Regenerate the golden files after a deliberate change with
  TZ=UTC maillog_exporter report tests/data/report/input.log > expected.txt
  TZ=UTC maillog_exporter report --json tests/data/report/input.log > expected.json
and read the diff.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DATA = os.path.join(os.environ.get("TESTS_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")), "data", "report")
INPUT = os.path.join(DATA, "input.log")
cases = harness.Cases()
ENV = dict(os.environ, TZ="UTC")


def report(*args, stdin=None):
    p = subprocess.run([harness.BIN, "report"] + list(args), input=stdin,
                       capture_output=True, env=ENV, timeout=60)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def golden(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return f.read()


def diff(want, got):
    import difflib
    return "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                        "expected", "got"))


def text_golden():
    code, out, err = report(INPUT)
    assert code == 0, err
    want = golden("expected.txt").replace("tests/data/report/input.log", INPUT)
    assert out == want, diff(want, out)


def json_golden():
    code, out, err = report("--json", INPUT)
    assert code == 0, err
    got = json.loads(out)
    want = json.loads(golden("expected.json"))
    want["files"][0]["path"] = INPUT
    assert got == want, diff(json.dumps(want, indent=1), json.dumps(got, indent=1))


def json_matches_text():
    """The two renderings carry the same numbers."""
    _, out, _ = report("--json", INPUT)
    j = json.loads(out)
    _, text, _ = report(INPUT)
    assert "Statuses:  %d (outbound %d, inbound %d)" % (
        j["statuses"]["total"], j["statuses"]["outbound"], j["statuses"]["inbound"]) in text
    assert sum(j["outcomes"].values()) == j["statuses"]["total"]
    hours = sum(sum(h[d][c] for d in ("outbound", "inbound") for c in ("2xx", "4xx", "5xx"))
                for h in j["hours"])
    assert hours + j["no_timestamp"] == j["statuses"]["total"], hours
    assert j["deferring_domains"][0]["domain"] == "outlook.com"
    assert j["deferring_domains"][0]["main_codes"][0] == {
        "code": "421", "enhanced": "4.7.28", "count": 4}
    for d in ("deferring_domains", "bouncing_domains"):
        cls = "4xx" if d.startswith("def") else "5xx"
        assert sum(x["count"] for x in j[d]) == j["classes"]["outbound"][cls]
    # Every 4xx and 5xx has exactly one reason, and the text shows each row.
    for d in ("outbound", "inbound"):
        for c in ("4xx", "5xx"):
            assert sum(x[c] for x in j["reasons"] if x["direction"] == d) == \
                j["classes"][d][c], (d, c)
    for x in j["reasons"]:
        assert re.search(r"^  %s +%s +%d +%d +%d +%.1f%%  %s%s$" % (
            x["direction"], x["reason"], x["4xx"], x["5xx"], x["count"], 100 * x["share"],
            "\\(harmless\\) " if x["harmless"] else
            "\\(not attempted\\) " if x["reason"] == "not_attempted" else "",
            re.escape(x["meaning"])), text, re.M), x
    assert [x["reason"] for x in j["reasons"] if x["harmless"]] == ["greylisted"]
    # Deferrals logged without an attempt come last in their direction,
    # whatever their count: they repeat the failures above them.
    out = [x["reason"] for x in j["reasons"] if x["direction"] == "outbound"]
    assert out[-1] == "not_attempted" and out.count("not_attempted") == 1, out


def same_as_once():
    """Codes and classes equal --once's exposition of the same log."""
    rc, text, err = harness.run("--once", "--maillog.path=" + INPUT)
    assert rc == 0, err
    m = harness.parse_metrics(text)
    _, out, _ = report("--json", INPUT)
    j = json.loads(out)
    for row in j["reply_codes"]:
        want = sum(int(v) for (name, labels), v in m.items()
                   if name == "maillog_smtp_status_total"
                   and dict(labels)["direction"] == row["direction"]
                   and dict(labels)["code"] == row["code"])
        assert row["count"] == want, (row, want)
    for d in ("outbound", "inbound"):
        for c in ("2xx", "4xx", "5xx"):
            want = sum(int(v) for (name, labels), v in m.items()
                       if name == "maillog_smtp_status_total"
                       and dict(labels)["direction"] == d and dict(labels)["class"] == c)
            assert j["classes"][d][c] == want, (d, c)
    for row in j["reasons"]:
        for c in ("4xx", "5xx"):
            want = sum(int(v) for (name, labels), v in m.items()
                       if name == "maillog_smtp_reason_total"
                       and dict(labels)["direction"] == row["direction"]
                       and dict(labels)["class"] == c
                       and dict(labels)["reason"] == row["reason"])
            assert row[c] == want, (row, c, want)
    assert j["unmatched"] == {"postfix": int(harness.value(
        m, "maillog_unmatched_lines_total", mta="postfix"))}


def gzip_split_and_stdin():
    tmp = tempfile.mkdtemp(prefix="maillog-report-")
    try:
        with open(INPUT, "rb") as f:
            data = f.read()
        lines = data.splitlines(True)
        gz = os.path.join(tmp, "mail.log.1.gz")
        with gzip.open(gz, "wb") as f:
            f.write(b"".join(lines[:20]))
        rest = os.path.join(tmp, "mail.log")
        with open(rest, "wb") as f:
            f.write(b"".join(lines[20:]))
        _, want, _ = report("--json", INPUT)
        want = json.loads(want)
        code, out, err = report("--json", gz, rest)
        assert code == 0, err
        got = json.loads(out)
        for k in ("statuses", "outcomes", "classes", "reply_codes", "enhanced_codes",
                  "hours", "deferring_domains", "bouncing_domains", "unmatched"):
            assert got[k] == want[k], k
        assert [f["lines"] for f in got["files"]] == [20, len(lines) - 20]
        code, out, err = report("--json", "-", stdin=data)
        assert code == 0, err
        got = json.loads(out)
        assert got["statuses"] == want["statuses"] and got["hours"] == want["hours"]
    finally:
        shutil.rmtree(tmp)


def errors():
    code, out, err = report()
    assert code == 2 and out == "" and len(err.splitlines()) == 1, (code, err)
    assert "no FILE" in err
    code, out, err = report("--bogus", INPUT)
    assert code == 2 and out == "" and err.splitlines() == [
        "maillog_exporter report: unknown flag --bogus (usage: maillog_exporter report "
        "[--json] FILE...)"], err
    code, out, err = report(INPUT, "/nonexistent/mail.log")
    assert code == 1 and out == "", (code, out)
    assert "cannot open /nonexistent/mail.log: No such file or directory" in err, err
    code, out, _ = report("--help")
    assert code == 0 and "--json" in out
    # "--" ends the flags: a file may start with a dash.
    tmp = tempfile.mkdtemp(prefix="maillog-report-")
    try:
        odd = os.path.join(tmp, "-odd.log")
        shutil.copy(INPUT, odd)
        os.chdir(tmp)
        code, out, err = report("--json", "--", "-odd.log")
        assert code == 0, err
        assert json.loads(out)["statuses"]["total"] == 41
    finally:
        os.chdir("/")
        shutil.rmtree(tmp)


def empty_log():
    tmp = tempfile.mkdtemp(prefix="maillog-report-")
    try:
        p = os.path.join(tmp, "empty.log")
        open(p, "w").close()
        code, out, err = report(p)
        assert code == 0, err
        assert "Statuses:  0 (outbound 0, inbound 0)" in out
        assert "(no status line had a timestamp)" in out
        code, out, err = report("--json", p)
        j = json.loads(out)
        assert j["period"] is None and j["hours"] == [] and j["reply_codes"] == []
    finally:
        shutil.rmtree(tmp)


def reinjection_names():
    """--postfix.reinjection-syslog-name as the daemon has it: the named
    instance's loopback client= lines are no receipts; a loopback client
    elsewhere is one; XFORWARD's orig_queue_id= is a hand-back either way."""
    log = ("Nov 28 15:01:08 mx1 postfix/submission/smtpd[1]: 4A01: client=localhost[127.0.0.1], "
           "sasl_method=PLAIN, sasl_username=webmail\n"
           "Nov 28 15:01:09 mx1 postfix/amavis/smtpd[2]: 4A02: client=localhost[127.0.0.1]\n"
           "Nov 28 15:01:10 mx1 postfix/smtpd[3]: 4A03: client=localhost[127.0.0.1], "
           "orig_queue_id=4A01, orig_client=localhost[127.0.0.1]\n").encode()
    for args, want in (([], 2), (["--postfix.reinjection-syslog-name=postfix/amavis"], 1),
                       (["--postfix.reinjection-syslog-name=postfix/amavis/smtpd",
                         "--postfix.reinjection-syslog-name=postfix/submission"], 0)):
        code, out, err = report("--json", *args, "-", stdin=log)
        assert code == 0, err
        assert json.loads(out)["received"] == want, (args, out)
    code, out, err = report("--postfix.reinjection-syslog-name=", "-", stdin=log)
    assert code == 2 and out == "" and "--postfix.reinjection-syslog-name" in err, err


def main():
    harness.require_binary()
    for fn in (text_golden, json_golden, json_matches_text, same_as_once,
               gzip_split_and_stdin, errors, empty_log, reinjection_names):
        cases.run(fn)
    cases.finish()


if __name__ == "__main__":
    main()
