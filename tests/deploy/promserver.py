"""A real Prometheus for the deploy tests: Debian's /usr/bin/prometheus on a
free 127.0.0.1 port with temporary storage, scraping the given exporters
every second and evaluating deploy/prometheus/rules.yml every second (or
an agent that only scrapes and remote-writes). Stopped by PID."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import harness  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RULES = os.path.join(ROOT, "deploy", "prometheus", "rules.yml")
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def require_prometheus():
    if not os.access(PROMETHEUS, os.X_OK):
        print("SKIP: no prometheus binary (Debian package prometheus)")
        sys.exit(harness.SKIP)


def wait_ready(name, proc, url, output, timeout=30):
    """Until `url` (a /-/ready endpoint) answers 200; fails with the
    server's output if the process exits first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError("%s exited %s: %s" % (name, proc.returncode, output()))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("%s not ready: %s" % (name, output()))
        time.sleep(0.1)

class Server:
    """A server process the test started, with its log in self.log and its
    storage in self.dir (a temporary folder): the tail of its log, and a
    stop by PID (SIGTERM, then SIGKILL after 20 s) that removes the folder.
    Prometheus here, Alertmanager in alerting.py."""

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Prometheus(Server):
    """One Prometheus process. By default a server scraping `targets` and
    evaluating `rules`; agent=True makes it a scrape-and-forward agent
    (--enable-feature=agent, its WAL under --storage.agent.path in the temp
    folder, no rules). `config` is appended to the generated prometheus.yml
    (alerting:, remote_write:, global external_labels: go there), `flags`
    to the command line; `data` is a TSDB folder to start from (blocks
    backfilled before start), else an empty one in the temp folder."""

    def __init__(self, targets, rules=RULES, config="", flags=(), agent=False, data=None,
                 external_labels=None):
        self.dir = tempfile.mkdtemp(prefix="maillog-prom-")
        self.port = harness.free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        text = "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
        if not agent:
            text += "  evaluation_interval: 1s\n"
        if external_labels:
            text += "  external_labels:\n" + "".join(
                "    %s: %s\n" % (k, json.dumps(v)) for k, v in external_labels.items())
        if rules and not agent:
            text += "rule_files:\n  - %s\n" % json.dumps(rules)
        if targets:
            text += ("scrape_configs:\n  - job_name: maillog_exporter\n"
                     "    static_configs:\n      - targets: [%s]\n"
                     % ", ".join(json.dumps(t) for t in targets))
        with open(cfg, "w") as f:
            f.write(text + config)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w+")
        if agent:
            storage = ["--enable-feature=agent",
                       "--storage.agent.path=" + os.path.join(self.dir, "agent")]
        else:
            storage = ["--storage.tsdb.path=" + (data or os.path.join(self.dir, "data"))]
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg] + storage +
            ["--web.listen-address=127.0.0.1:%d" % self.port,
             "--log.level=warn"] + list(flags),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        wait_ready("prometheus", self.proc, self.url("/-/ready"), self.output)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


    def api(self, path, **params):
        """GET /api/v1/<path>; returns (status, data) or raises with
        Prometheus's own error text (which names a parse error)."""
        url = self.url("/api/v1/" + path)
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
            raise AssertionError("%s: %s: %s" % (path, body.get("errorType"), body.get("error")))
        if body.get("status") != "success":
            raise AssertionError("%s: %s" % (path, body))
        return body["data"]

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        data = self.api("query", **params)
        return data["resultType"], data["result"]

    def wait_query(self, expr, timeout=30, pred=None):
        """Poll an instant query until it returns a non-empty result (and
        pred(result) holds); returns the result, or raises."""
        deadline = time.monotonic() + timeout
        while True:
            _, res = self.query(expr)
            if res and (pred is None or pred(res)):
                return res
            if time.monotonic() > deadline:
                raise AssertionError("no data for %s (last: %s)" % (expr, res))
            time.sleep(0.5)


    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
