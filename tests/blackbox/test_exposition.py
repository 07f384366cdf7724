"""The whole --once exposition of a Postfix log with domains, delays, codes,
receipts, a content-filter hop and an unmatched line, compared with
tests/data/exposition/expected.txt line by line.

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


cases.run(test_whole_exposition)
cases.run(test_sums_agree)
cases.finish()
