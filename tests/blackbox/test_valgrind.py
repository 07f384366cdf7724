"""The daemon under valgrind memcheck: ingest, a rename rotation and a
copytruncate, scrapes of every endpoint, a SIGHUP reload of --config.file
and a SIGTERM shutdown, with no memory error and no definite or indirect
leak. ASan binaries cannot run under valgrind, so this needs a plain build:
tests/run.sh exports MAILLOG_EXPORTER_PLAIN (skip, 77, when it is unset)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import harness
from harness import Cases, parse_metrics, postfix_line

PLAIN = os.environ.get("MAILLOG_EXPORTER_PLAIN", "")

CONFIG = """parsers:
  - mta: mailgw
    direction: outbound
    tag: mailgw
    match: "smtp-result:"
    patterns:
      - 'smtp-result: to=<(?<domain>[^>]*)> result=(?<outcome>\\w+) reply="(?<code>\\d{3}) (?<enhanced>\\d\\.\\d{1,3}\\.\\d{1,3})"'
"""


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        return r.status, r.read()


def scrape(port):
    status, body = get(port, "/metrics")
    assert status == 200, status
    return parse_metrics(body.decode("utf-8"))


def wait_counts(port, want, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        got = harness.status_counts(scrape(port), mta="postfix")
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_clean_under_valgrind():
    d = tempfile.mkdtemp(prefix="valgrind.")
    try:
        log = os.path.join(d, "mail.log")
        conf = os.path.join(d, "parsers.yml")
        vlog = os.path.join(d, "valgrind.txt")
        with open(conf, "w") as f:
            f.write(CONFIG)
        with open(log, "w") as f:
            for n in range(50):
                f.write(postfix_line(n) + "\n")
        port = harness.free_port()
        err = open(os.path.join(d, "stderr.txt"), "w+")
        proc = subprocess.Popen(
            ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
             "--error-exitcode=99", "--smc-check=all-non-file", "--log-file=" + vlog,
             PLAIN, "--maillog.path=" + log, "--maillog.start=beginning",
             "--config.file=" + conf, "--web.listen-address=127.0.0.1:%d" % port],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, "exited early: %s" % open(vlog).read()[-3000:]
                try:
                    get(port, "/")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "no answer under valgrind"
                    time.sleep(0.2)
            want = {("250", "2.0.0"): 50}
            assert wait_counts(port, want) == want
            # Rename rotation, then copytruncate, while scraping.
            os.rename(log, log + ".1")
            with open(log, "w") as f:
                for n in range(50, 80):
                    code, enh = harness.code_for(n)
                    f.write(postfix_line(n, code, enh) + "\n")
            for n in range(50, 80):
                code, enh = harness.code_for(n)
                want[(code, enh)] = want.get((code, enh), 0) + 1
            assert wait_counts(port, want) == want
            shutil.copy(log, log + ".2")
            with open(log, "r+") as f:
                f.truncate(0)
            with open(log, "a") as f:
                f.write(postfix_line(80, "550", "5.1.1") + "\n")
                f.write("Nov 28 14:10:01 gw mailgw[1]: smtp-result: to=<a@example.org> "
                        "result=bounced reply=\"550 5.7.1\"\n")
            want[("550", "5.1.1")] = want.get(("550", "5.1.1"), 0) + 1
            assert wait_counts(port, want) == want
            for path in ("/", "/healthz", "/nope"):
                try:
                    get(port, path)
                except urllib.error.HTTPError:
                    pass
            # Reload the config twice (the second time a broken file: refused).
            proc.send_signal(signal.SIGHUP)
            time.sleep(1)
            with open(conf, "w") as f:
                f.write("parsers: [\n")
            proc.send_signal(signal.SIGHUP)
            time.sleep(1)
            m = scrape(port)
            assert harness.status_counts(m, mta="postfix") == want
            assert harness.status_counts(m, mta="mailgw") == {("550", "5.7.1"): 1}, \
                harness.status_counts(m, mta="mailgw")
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        report = open(vlog).read()
        err.seek(0)
        stderr = err.read()
        assert "reload refused" in stderr, stderr
        assert rc == 0, "exit %d (99: valgrind found errors or leaks):\n%s" % (rc, report[-4000:])
        assert "ERROR SUMMARY: 0 errors" in report, report[-4000:]
        assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report, \
            report[-4000:]
        summary = [l for l in report.splitlines() if "ERROR SUMMARY" in l or "lost:" in l
                   or "in use at exit" in l]
        print("\n".join(summary))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    if not PLAIN or not os.access(PLAIN, os.X_OK):
        print("SKIP: MAILLOG_EXPORTER_PLAIN does not name a non-sanitized build")
        sys.exit(harness.SKIP)
    if shutil.which("valgrind") is None:
        print("SKIP: valgrind is not installed")
        sys.exit(harness.SKIP)
    c = Cases()
    c.run(test_clean_under_valgrind)
    c.finish()
