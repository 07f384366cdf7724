#!/usr/bin/env python3
"""The status page at "/" in a real headless Chromium (Debian's chromium).

The exporter runs on 127.0.0.1, fed a generated log that holds a hostile
value where the page shows it: the log's own path contains
<script>alert(1)</script>, and a recipient domain tries the same. Chromium
loads the page three ways: --dump-dom (the DOM after parsing, to read the
numbers and check the script stayed text), --screenshot (kept in the build
directory as an artefact; its path is printed), both with
--enable-logging=stderr to catch console errors and --log-net-log to list
every URL Chromium requested, which must all be on 127.0.0.1. The numbers
the page shows must equal /metrics.

Without chromium installed the test is skipped (77), saying so.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HOSTILE = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTEFACT_DIR = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(
    os.path.dirname(harness.BIN or "."))
cases = harness.Cases()


def gen_log(path):
    """Deliveries, deferrals, bounces and rejects over a few domains; the
    counts are small primes apart so a swapped column shows."""
    lines = []
    n = 0

    def smtp(domain, code, enh, status, text):
        nonlocal n
        n += 1
        if code.startswith("2"):
            reply = "%s %s Ok: queued as Q%05d" % (code, enh, n)
        else:
            reply = "host mx.%s[192.0.2.7] said: %s %s %s (in reply to RCPT TO command)" % (
                domain, code, enh, text)
        lines.append(
            "2026-11-28T14:%02d:%02d.000000+00:00 mx1 postfix/smtp[4242]: 4A%05X: "
            "to=<u%d@%s>, relay=mx.%s[192.0.2.7]:25, delay=0.5, "
            "delays=0.1/0/0.2/0.2, dsn=%s, status=%s (%s)"
            % (n // 60 % 60, n % 60, n, n, domain, domain, enh, status, reply))

    for i in range(41):
        smtp(["gmail.com", "example.org", "posteo.de"][i % 3], "250", "2.0.0", "sent", "")
    for i in range(13):
        smtp("outlook.com", "421", "4.7.28", "deferred", "Service unavailable, blocked")
    for i in range(5):
        smtp("greylist.example", "450", "4.2.0", "deferred", "Greylisted, try later")
    for i in range(7):
        smtp("yahoo.com", "554", "5.1.1", "bounced", "Recipient address rejected")
    for i in range(3):
        smtp("example.net", "550", "5.7.1", "bounced", "Message rejected as spam")
    # A hostile "domain": not a DNS name, so it counts as domain="other".
    for i in range(3):
        smtp('x">%s' % HOSTILE, "550", "5.1.1", "bounced", HOSTILE)
    for i in range(4):
        n += 1
        lines.append(
            "2026-11-28T14:30:%02d.000000+00:00 mx1 postfix/smtpd[500]: NOQUEUE: reject: "
            "RCPT from unknown[203.0.113.9]: 554 5.7.1 <x@example.net>: Relay access denied; "
            "from=<s@spam.example> to=<x@example.net> proto=ESMTP helo=<spam>" % i)
    lines.append("2026-11-28T14:31:00.000000+00:00 mx1 postfix/smtp[205]: 4D0004: "
                 "to=<z@example.com>, status=mystery")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def chromium(args, url, profile):
    """Run chromium headless on url; returns (stdout, stderr, net-log URLs)."""
    netlog = os.path.join(profile, "netlog.json")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-extensions",
           "--disable-default-apps", "--no-default-browser-check",
           "--user-data-dir=" + os.path.join(profile, "profile"),
           # Chromium's own background services (time, updates, accounts)
           # ask Google even with the flags above; no name but 127.0.0.1
           # resolves, so nothing leaves the machine.
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
           "--enable-logging=stderr", "--v=0", "--log-net-log=" + netlog] + args + [url]
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    return (p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
            requests(netlog))


def requests(netlog):
    """[(url, initiator)] of every URL request in a Chromium net log."""
    if not os.path.exists(netlog):
        return []
    with open(netlog, encoding="utf-8", errors="replace") as f:
        log, _ = json.JSONDecoder().raw_decode(f.read())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [(e["params"]["url"], e["params"].get("initiator", ""))
            for e in log["events"]
            if e["type"] == start and "url" in e.get("params", {})]


def console_errors(stderr):
    """Console messages and CSP violations chromium logged."""
    bad = []
    for line in stderr.splitlines():
        if "CONSOLE" in line or "Content Security Policy" in line or \
                "Refused to" in line or "Uncaught" in line:
            bad.append(line)
    return bad


def foreign(reqs, origin):
    """URLs the page (initiator: its origin) asked for beyond 127.0.0.1."""
    return [u for u, init in reqs
            if init == origin and not u.startswith(origin + "/")
            and not u.startswith("data:")]


def cell(dom, ident):
    """The number in the element with id ident (grouping spaces removed)."""
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(ident), dom)
    assert m, "no element id=%s in the page" % ident
    digits = re.sub(r"[^0-9]", "", html.unescape(m.group(1)))
    assert digits, "element id=%s holds no number: %r" % (ident, m.group(1))
    return int(digits)


def main():
    harness.require_binary()
    if CHROMIUM is None:
        print("SKIP: chromium is not installed (apt-get install chromium); "
              "the status page is still checked by test_http.py")
        sys.exit(harness.SKIP)

    tmp = tempfile.mkdtemp(prefix="maillog-page-")
    # The path holds the hostile string: the page shows every log path.
    logdir = os.path.join(tmp, "logs", HOSTILE)
    os.makedirs(logdir)
    log = os.path.join(logdir, "mail.log")
    gen_log(log)
    total_lines = sum(1 for _ in open(log))

    d = harness.Daemon("--maillog.path=" + log, "--maillog.start=beginning",
                       "--maillog.timezone=UTC")
    try:
        d.wait_for(lambda m: harness.value(
            m, "maillog_lines_read_total", path=log) == total_lines)
        url = d.url("/")
        origin = "http://" + d.addr
        state = {}

        def page_headers():
            status, headers, body = d.get("/")
            assert status == 200, status
            assert headers["Content-Type"] == "text/html; charset=utf-8", headers
            csp = headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp, csp
            text = body.decode("utf-8")
            assert HOSTILE not in text, "the hostile path reached the page unescaped"
            assert html.escape(HOSTILE, quote=True).replace("&#x27;", "&#39;") in text
            assert "<script" not in text.lower()

        def dom_loads_clean():
            prof = tempfile.mkdtemp(dir=tmp)
            dom, err, urls = chromium(["--dump-dom"], url, prof)
            state["dom"] = dom
            assert "maillog_exporter" in dom, "no page in the DOM: " + err[-2000:]
            assert not console_errors(err), console_errors(err)
            assert (url, "not an origin") in urls or any(u == url for u, _ in urls), \
                "the net log did not record the page: " + err[-2000:]
            assert not foreign(urls, origin), "the page asked for %s" % foreign(urls, origin)

        def hostile_shown_as_text():
            dom = state["dom"]
            assert "<script" not in dom.lower(), "a script element is in the DOM"
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom, \
                "the hostile path is not shown as text"

        def numbers_equal_metrics():
            dom = state["dom"]
            m = d.metrics()
            for dir_label, dir_id in (("outbound", "out"), ("inbound", "in")):
                for cls in ("2xx", "4xx", "5xx"):
                    want = sum(int(v) for (name, labels), v in m.items()
                               if name == "maillog_smtp_status_total" and
                               dict(labels)["direction"] == dir_label and
                               dict(labels)["class"] == cls)
                    got = cell(dom, "total-%s-%s" % (dir_id, cls))
                    assert got == want, "total %s %s: page %d, /metrics %d" % (
                        dir_label, cls, got, want)
                    # Every line was read within the last minutes.
                    assert cell(dom, "day-%s-%s" % (dir_id, cls)) == want
                    assert cell(dom, "hour-%s-%s" % (dir_id, cls)) == want
            assert cell(dom, "lines-0") == int(harness.value(
                m, "maillog_lines_read_total", path=log))
            assert cell(dom, "unmatched-postfix") == int(harness.value(
                m, "maillog_unmatched_lines_total", mta="postfix")) == 1
            for outcome in ("delivered", "deferred", "bounced", "rejected"):
                want = sum(int(v) for (name, labels), v in m.items()
                           if name == "maillog_outcomes_total" and
                           dict(labels)["outcome"] == outcome)
                assert cell(dom, "outcome-" + outcome) == want, outcome
            # The known mix: 41 sent, 18 deferred, 13 bounced, 4 rejects.
            assert cell(dom, "total-out-2xx") == 41
            assert cell(dom, "total-out-4xx") == 18
            assert cell(dom, "total-out-5xx") == 13
            assert cell(dom, "total-in-5xx") == 4

        def meanings_and_domains_shown():
            dom = state["dom"]
            assert "Mail flood detected" in dom          # 4.7.28
            assert "Bad destination mailbox address" in dom  # 5.1.1
            dom_table = re.search(r'id="domains-4xx".*?</table>', dom, re.S).group(0)
            assert "outlook.com" in dom_table
            assert dom_table.index("outlook.com") < dom_table.index("greylist.example")

        def reasons_equal_metrics():
            """Why it failed: every reason row equals maillog_smtp_reason_total,
            greylisting alone is marked harmless."""
            dom = state["dom"]
            m = d.metrics()
            seen = 0
            for (name, labels), v in m.items():
                if name != "maillog_smtp_reason_total":
                    continue
                lab = dict(labels)
                dir_id = "out" if lab["direction"] == "outbound" else "in"
                assert cell(dom, "%s-reason-%s-%s" % (dir_id, lab["reason"], lab["class"])) \
                    == int(v), lab
                seen += 1
            assert seen >= 5, seen
            # 13 rate_limited (4.7.28) outrank 5 greylisted.
            out = re.search(r'id="out-reasons".*?</table>', dom, re.S).group(0)
            assert out.index("rate_limited") < out.index("greylisted")
            rows = re.findall(r"<tr>.*?</tr>", out, re.S)
            harmless = [r for r in rows if "harmless" in r]
            assert len(harmless) == 1 and "greylisted" in harmless[0], harmless
            inb = re.search(r'id="in-reasons".*?</table>', dom, re.S).group(0)
            assert "relay_denied" in inb and cell(dom, "in-reason-relay_denied-5xx") == 4

        def screenshot():
            prof = tempfile.mkdtemp(dir=tmp)
            shot = os.path.join(os.path.abspath(ARTEFACT_DIR), "status-page.png")
            _, err, urls = chromium(["--screenshot=" + shot, "--window-size=1280,1600",
                                     "--hide-scrollbars"], url, prof)
            assert os.path.exists(shot) and os.path.getsize(shot) > 10000, err[-2000:]
            with open(shot, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
            assert not console_errors(err), console_errors(err)
            assert not foreign(urls, origin), foreign(urls, origin)
            print("screenshot: %s" % shot)

        cases.run(page_headers)
        cases.run(dom_loads_clean)
        if "dom" in state:
            cases.run(hostile_shown_as_text)
            cases.run(numbers_equal_metrics)
            cases.run(meanings_and_domains_shown)
            cases.run(reasons_equal_metrics)
        cases.run(screenshot)
    finally:
        code = d.stop()
        if code != 0:
            print("FAIL daemon exited %s: %s" % (code, d.stderr()))
            cases.failed += 1
        shutil.rmtree(tmp, ignore_errors=True)
    cases.finish()


if __name__ == "__main__":
    main()
