"""--once: read logs (plain, gzip, several, stdin) to EOF, print the
exposition, exit 0; counts are exact."""
import gzip
import os
import tempfile

import harness
from harness import code_for, parse_metrics, postfix_line, run, status_counts

harness.require_binary()
cases = harness.Cases()
N = 3000


def write_lines(path, first, count, opener=open, eol="\n"):
    expect = {}
    with opener(path, "wt", newline="") as f:
        for n in range(first, first + count):
            code, enh = code_for(n)
            f.write(postfix_line(n, code, enh) + eol)
            expect[(code, enh)] = expect.get((code, enh), 0) + 1
            # Lines that count nothing, between the deliveries.
            f.write("Nov 28 14:10:00 mx postfix/qmgr[99]: 4A%05X: removed%s" % (n, eol))
    return expect


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def once(*args, stdin=None):
    rc, out, err = run("--once", *args, stdin=stdin)
    assert rc == 0, (rc, err)
    return parse_metrics(out)


def test_plain_file():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        expect = write_lines(p, 0, N)
        m = once("--maillog.path=" + p)
        assert status_counts(m, mta="postfix", direction="outbound") == expect
        assert harness.value(m, "maillog_lines_read_total", path=p) == 2 * N


def test_gzip_and_plain_together():
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "mail.log.2.gz"), os.path.join(d, "mail.log.1")
        expect = merge(write_lines(a, 0, N, opener=gzip.open),
                       write_lines(b, N, N))
        m = once("--maillog.path=" + a, "--maillog.path=" + b)
        assert status_counts(m) == expect, (status_counts(m), expect)


def test_stdin():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        expect = write_lines(p, 0, 500)
        with open(p, "rb") as f:
            data = f.read()
        m = once("--maillog.path=-", stdin=data)
        assert status_counts(m) == expect


def test_crlf_and_unterminated_last_line():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        expect = write_lines(p, 0, 100, eol="\r\n")
        with open(p, "a") as f:
            f.write(postfix_line(999999, "550", "5.1.1"))  # no newline: not counted
        m = once("--maillog.path=" + p)
        assert status_counts(m) == expect
        assert harness.value(m, "maillog_dropped_fragments_total", path=p) == 1


def test_corrupt_gzip_fails():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log.gz")
        with gzip.open(p, "wt") as f:
            for n in range(2000):
                f.write(postfix_line(n) + "\n")
        with open(p, "r+b") as f:
            f.truncate(os.path.getsize(p) // 2)
        rc, out, err = run("--once", "--maillog.path=" + p)
        assert rc == 1 and p in err, (rc, err)
        assert out == ""


for t in (test_plain_file, test_gzip_and_plain_together, test_stdin,
          test_crlf_and_unterminated_last_line, test_corrupt_gzip_fails):
    cases.run(t)
cases.finish()
