"""A real Prometheus (Debian's prometheus package, /usr/bin/prometheus)
scrapes the exporter once in OpenMetrics and once in text format 0.0.4, and
the values it stored, read back through its HTTP API, must equal what the
exporter serves: counters, histograms, the code meanings and a path label
holding a double quote and a backslash.

Prometheus 2.42 (Debian 12) has no scrape_protocols setting (2.49+): it
always asks for OpenMetrics first. So each scrape goes through a small
proxy in this test that records the Content-Type the exporter answered
with and, for the text run, rewrites the Accept header to
text/plain;version=0.0.4, exactly what a newer Prometheus with
scrape_protocols: [PrometheusText0.0.4] sends. Everything listens on
127.0.0.1 with temporary storage and is stopped by PID."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import harness

harness.require_binary()

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
if not os.access(PROMETHEUS, os.X_OK):
    print("SKIP: prometheus not found (Debian package prometheus)")
    sys.exit(harness.SKIP)

DATA = os.path.join(os.environ.get("TESTS_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "data", "exposition")


class Proxy:
    """Forwards GETs to the exporter; accept=None passes Accept through."""

    def __init__(self, upstream, accept):
        proxy = self
        self.content_types = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("accept", "accept-encoding", "user-agent")}
                if accept is not None:
                    headers["Accept"] = accept
                req = urllib.request.Request("http://%s%s" % (upstream, self.path),
                                             headers=headers)
                with urllib.request.urlopen(req, timeout=5) as r:
                    body = r.read()
                    proxy.content_types.append(r.headers.get("Content-Type"))
                    self.send_response(r.status)
                    for k in ("Content-Type", "Content-Encoding", "Vary"):
                        if r.headers.get(k):
                            self.send_header(k, r.headers[k])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Prometheus:
    def __init__(self, target, tmpdir):
        self.port = harness.free_port()
        cfg = os.path.join(tmpdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: maillog\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log = open(os.path.join(tmpdir, "prometheus.log"), "w+")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(tmpdir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def query(self, q):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=5) as r:
            data = json.load(r)
        assert data["status"] == "success", data
        return {frozenset((k, v) for k, v in s["metric"].items() if k not in ("job", "instance", "__name__")):
                float(s["value"][1]) for s in data["data"]["result"]}

    def wait(self, q, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise AssertionError("prometheus exited: " + self.log.read()[-2000:])
            try:
                r = self.query(q)
                if r:
                    return r
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.log.seek(0)
                raise AssertionError("no samples for %s: %s" % (q, self.log.read()[-2000:]))
            time.sleep(0.5)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def expected(daemon):
    """{(name, labels)} -> value, straight from the exporter (text)."""
    return daemon.metrics()


def unescape(v):
    """A label value as the exposition escaped it, back to its bytes."""
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"n": "\n"}.get(v[i + 1], v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def compare(prom, want, name):
    got = prom.query(name)
    # Prometheus drops labels with an empty value (code="" is no code label).
    exp = {frozenset((k, unescape(x)) for k, x in labels if x != ""): v
           for (n, labels), v in want.items() if n == name}
    assert exp, "exporter has no %s" % name
    assert got == exp, "%s differs:\n got %s\nwant %s" % (name, sorted(got.items()),
                                                         sorted(exp.items()))


def scrape_with(accept, want_type):
    with tempfile.TemporaryDirectory() as tmpdir:
        log = os.path.join(tmpdir, 'mail "q" \\x.log')
        shutil.copy(os.path.join(DATA, "input.log"), log)
        with harness.Daemon("--maillog.path=" + log, "--maillog.start=beginning",
                            "--metrics.domains.top=2") as d:
            d.wait_for(lambda m: harness.value(m, "maillog_lines_matched_total",
                                               mta="postfix") == 22)
            proxy = Proxy(d.addr, accept)
            prom = Prometheus(proxy.addr, tmpdir)
            try:
                prom.wait('maillog_lines_read_total')
                # Two scrapes at least, so every family has arrived.
                prom.wait('count_over_time(up[1m]) >= 2')
                up = prom.query("up")
                assert up == {frozenset(): 1.0}, up
                assert proxy.content_types and all(
                    t.startswith(want_type) for t in proxy.content_types), proxy.content_types
                want = expected(d)
                for name in ("maillog_smtp_status_total", "maillog_outcomes_total",
                             "maillog_domain_status_total", "maillog_messages_received_total",
                             "maillog_smtp_code_info", "maillog_smtp_enhanced_code_info",
                             "maillog_delivery_delay_seconds_bucket",
                             "maillog_delivery_delay_seconds_count",
                             "maillog_delivery_delay_seconds_sum",
                             "maillog_lines_read_total", "maillog_bytes_read_total",
                             "maillog_source_state", "maillog_series_limit"):
                    compare(prom, want, name)
                # The path label came through unescaped, quote and backslash.
                paths = {dict(l)["path"] for l in prom.query("maillog_lines_read_total")}
                assert paths == {log}, paths
                assert prom.query("maillog_exporter_build_info")
                # The PromQL join docs/metrics.md shows.
                joined = prom.query('sum by (code, description) (maillog_smtp_status_total'
                                    ' * on(code) group_left(description)'
                                    ' maillog_smtp_code_info)')
                assert {dict(l)["code"]: dict(l)["description"] for l in joined}["421"] == \
                    "Domain service not available, closing transmission channel"
            finally:
                prom.stop()
                proxy.close()


cases = harness.Cases()


def test_openmetrics():
    scrape_with(None, "application/openmetrics-text; version=1.0.0")


def test_text_0_0_4():
    scrape_with("text/plain;version=0.0.4", "text/plain; version=0.0.4")


cases.run(test_openmetrics)
cases.run(test_text_0_0_4)
cases.finish()
