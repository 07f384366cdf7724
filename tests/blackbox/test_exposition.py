"""The whole --once exposition of a Postfix log with domains, delays, codes,
receipts, a content-filter hop and an unmatched line, compared with
tests/data/exposition/expected.txt line by line; and the inbound domain
label (--metrics.domains.inbound) for all four MTAs' rejects.

Only what cannot be fixed by the input is normalised: the process_*
families, the build_info labels, the wall-clock gauges (lag, time of the
last line read) and the temporary directory in the path label. The log's
file name holds a double quote and a backslash, so label escaping is part
of the comparison. Set UPDATE_EXPECTED=1 to rewrite the expected file
(then review the diff)."""
import os
import re
import shutil
import sys
import tempfile

import harness

harness.require_binary()

DATA = os.path.join(os.environ.get("TESTS_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data", "exposition")
EXPECTED = os.path.join(DATA, "expected.txt")


def normalise(text, tmpdir):
    out = []
    skip_family = False
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            skip_family = line.split(" ")[2].startswith("process_")
        if skip_family:
            continue
        line = line.replace(tmpdir, "TMP")
        if line.startswith("maillog_exporter_build_info{"):
            line = re.sub(r'version="[^"]*",revision="[^"]*"',
                          'version="V",revision="R"', line)
        elif line.startswith("maillog_lag_seconds{") or \
                line.startswith("maillog_last_line_read_timestamp_seconds{"):
            line = re.sub(r" \S+$", " NOW", line)
        out.append(line)
    return "\n".join(out) + "\n"


def run_once(tmpdir):
    path = os.path.join(tmpdir, 'mail "q" \\x.log')
    shutil.copy(os.path.join(DATA, "input.log"), path)
    rc, out, err = harness.run("--once", "--maillog.path=" + path,
                               "--metrics.domains.top=2")
    assert rc == 0, "exit %d: %s" % (rc, err)
    return normalise(out, tmpdir)


cases = harness.Cases()


def test_whole_exposition():
    with tempfile.TemporaryDirectory() as tmpdir:
        got = run_once(tmpdir)
    if os.environ.get("UPDATE_EXPECTED") == "1":
        with open(EXPECTED, "w", encoding="utf-8") as f:
            f.write(got)
    with open(EXPECTED, encoding="utf-8") as f:
        want = f.read()
    if got != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            "expected.txt", "got", n=1))
        raise AssertionError("exposition differs:\n" + diff[:6000])


def test_sums_agree():
    """Per class, the domain family and the outbound status family count
    the same events; outcomes count every status event once."""
    with tempfile.TemporaryDirectory() as tmpdir:
        m = harness.parse_metrics(run_once(tmpdir).replace(" NOW", " 0"))
    def total(name, **want):
        return sum(v for (n, labels), v in m.items() if n == name and
                   all(dict(labels).get(k) == w for k, w in want.items()))
    for cls in ("2xx", "4xx", "5xx"):
        assert total("maillog_domain_status_total", direction="outbound", **{"class": cls}) == \
            total("maillog_smtp_status_total", direction="outbound", **{"class": cls}), cls
    assert total("maillog_outcomes_total") == total("maillog_smtp_status_total")


# Inbound rejects from all four MTAs and an outbound deferral whose recipient domain rcpt.example is also every
# reject's recipient: the inbound domain is the client, never the recipient.
INBOUND_LINES = [
    "Nov 28 14:20:19 mx1 postfix/smtpd[4019]: NOQUEUE: reject: RCPT from Mail.Example.NET[192.0.2.77]: "
    "550 5.7.1 <u@rcpt.example>: Recipient address rejected: Access denied; from=<s@example.net> "
    "to=<u@rcpt.example> proto=ESMTP helo=<spoofed.example>",
    "Nov 28 14:20:20 mx1 postfix/smtpd[4020]: NOQUEUE: reject: RCPT from unknown[2001:DB8::77]: "
    "450 4.7.1 <u@rcpt.example>: Recipient address rejected: Greylisted; from=<s@example.net> "
    "to=<u@rcpt.example> proto=ESMTP helo=<mail.example.net>",
    "Nov 28 14:21:01 mx1 postfix/postscreen[5001]: NOQUEUE: reject: RCPT from [192.0.2.1]:37766: "
    "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org; "
    "from=<bulk@spam.example>, to=<u@rcpt.example>, proto=ESMTP, helo=<spam.example>",
    "Nov 28 14:22:01 mx1 exim[9001]: H=(helo.spoofed.example) [198.51.100.12]:41000 "
    "F=<a@example.net> rejected RCPT <u@rcpt.example>: relay not permitted",
    "Nov 28 14:22:02 mx1 exim[9002]: H=Exim-Client.example.net (helo.spoofed.example) "
    "[198.51.100.13]:41001 F=<a@example.net> rejected RCPT <u@rcpt.example>: relay not permitted",
    "Nov 28 14:23:01 mx1 sm-mta[5741]: 4ASEDAab012382: ruleset=check_rcpt, arg1=<u@rcpt.example>, "
    "relay=relay.example.org [198.51.100.30] (may be forged), reject=550 5.7.1 <u@rcpt.example>... "
    "Relaying denied",
    "Nov 28 14:23:02 mx1 sm-mta[5742]: 4ASEDBab012383: ruleset=check_rcpt, arg1=<u@rcpt.example>, "
    "relay=[198.51.100.31], reject=550 5.7.1 <u@rcpt.example>... Relaying denied",
    "Nov 28 14:24:01 mx1 smtpd[2917]: 6b87a66f1ba9a2d8 smtp failed-command "
    "command=\"RCPT TO:<u@rcpt.example>\" result=\"550 5.7.1 Delivery not authorized\"",
]
OUTBOUND_LINE = (
    "Nov 28 14:12:01 mx1 postfix/smtp[2130]: 2F3A4B5C6D: to=<bob@rcpt.example>, "
    "relay=mx.rcpt.example[192.0.2.25]:25, delay=1.5, delays=0.1/0/0.5/0.9, dsn=4.7.1, "
    "status=deferred (host mx.rcpt.example[192.0.2.25] said: 450 4.7.1 Greylisted (in reply to "
    "RCPT TO command))")
# Each line is written REPEAT times. A name gets its label on its third
# sighting (TOPK_MIN_HITS); the two before stay in "other" for good.
REPEAT = 5
LABELLED = REPEAT - 2


def domain_series(inbound_flag):
    with tempfile.TemporaryDirectory() as tmpdir:
        path = os.path.join(tmpdir, "mail.log")
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(REPEAT):
                for line in INBOUND_LINES + [OUTBOUND_LINE]:
                    f.write(line + "\n")
        args = ["--once", "--maillog.path=" + path]
        if inbound_flag:
            args.append("--metrics.domains.inbound")
        rc, out, err = harness.run(*args)
    assert rc == 0, "exit %d: %s" % (rc, err)
    m = harness.parse_metrics(out)
    series = {}
    for (n, labels), v in m.items():
        if n == "maillog_domain_status_total":
            d = dict(labels)
            key = (d["direction"], d["domain"])
            series[key] = series.get(key, 0) + int(v)
    statuses = sum(int(v) for (n, labels), v in m.items()
                   if n == "maillog_smtp_status_total" and dict(labels)["direction"] == "inbound")
    return series, statuses


def test_inbound_domains_are_clients():
    """With --metrics.domains.inbound, an inbound reject counts under the
    client's name or address (lower-cased, IPv6 canonical); OpenSMTPD names
    no client and counts as other; outbound keeps the recipient domain."""
    series, statuses = domain_series(True)
    inbound = {d: v for (direction, d), v in series.items() if direction == "inbound"}
    clients = ["mail.example.net", "2001:db8::77", "192.0.2.1", "198.51.100.12",
               "exim-client.example.net", "relay.example.org", "198.51.100.31"]
    want = {c: LABELLED for c in clients}
    want["other"] = 2 * len(clients) + REPEAT
    assert inbound == want, inbound
    assert sum(inbound.values()) == statuses == REPEAT * len(INBOUND_LINES)
    assert series.get(("outbound", "rcpt.example")) == LABELLED, series
    # Off by default: client identities are published only on request.
    series, _ = domain_series(False)
    assert [k for k in series if k[0] == "inbound"] == [], series
    assert series.get(("outbound", "rcpt.example")) == LABELLED, series


cases.run(test_whole_exposition)
cases.run(test_sums_agree)
cases.run(test_inbound_domains_are_clients)
cases.finish()
