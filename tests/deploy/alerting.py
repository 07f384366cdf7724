"""The far end of the alert path for the deploy tests: Debian's real
Alertmanager (package prometheus-alertmanager) on a free 127.0.0.1 port with
its own storage in a temp folder and no cluster port, stopped by PID; and a
webhook receiver (http.server on 127.0.0.1) that records every notification
with the moment it arrived."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import promserver
from promserver import harness

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def require_alertmanager():
    # CI installs it (tests/run.sh PACKAGES): missing is a failure, not a skip.
    if not os.access(ALERTMANAGER, os.X_OK):
        print("FAIL: no %s (Debian package prometheus-alertmanager, in tests/run.sh)"
              % ALERTMANAGER)
        print("0 passed, 1 failed")
        raise SystemExit(1)


class Webhook:
    """POSTs from Alertmanager's webhook_config, kept as (monotonic time of
    arrival, payload)."""

    def __init__(self):
        self.received = []
        self.cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.monotonic()
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsable": body.decode("utf-8", "replace")}
                with hook.cond:
                    hook.received.append((now, payload))
                    hook.cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/alerts" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self):
        """[(arrival, alert dict, payload)] for every alert of every POST."""
        with self.cond:
            return [(t, a, p) for t, p in self.received for a in p.get("alerts", [])]

    def wait(self, match, timeout):
        """The first (arrival, alert) with match(alert) true, waiting up to
        timeout seconds; None if none came."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, p in self.received:
                    for a in p.get("alerts", []):
                        if match(a):
                            return t, a
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Alertmanager(promserver.Server):
    """One Alertmanager routing everything to `webhook_url`. route holds the
    grouping timers (scaled by the caller as its rules are)."""

    def __init__(self, webhook_url, group_wait="30s", group_interval="5m",
                 repeat_interval="4h"):
        self.dir = tempfile.mkdtemp(prefix="maillog-am-")
        self.port = harness.free_port()
        cfg = os.path.join(self.dir, "alertmanager.yml")
        with open(cfg, "w") as f:
            f.write("route:\n  receiver: webhook\n  group_by: [alertname, instance]\n"
                    "  group_wait: %s\n  group_interval: %s\n  repeat_interval: %s\n"
                    "receivers:\n  - name: webhook\n    webhook_configs:\n"
                    "      - url: %s\n        send_resolved: true\n"
                    % (group_wait, group_interval, repeat_interval, json.dumps(webhook_url)))
        self.log = open(os.path.join(self.dir, "alertmanager.log"), "w+")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, "--config.file=" + cfg,
             "--storage.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             # Empty: no cluster (gossip) listener at all, so no port but the web one.
             "--cluster.listen-address=",
             "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        promserver.wait_ready("alertmanager", self.proc, self.url("/-/ready"), self.output)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def alerts(self):
        """What Alertmanager holds now (API v2)."""
        with urllib.request.urlopen(self.url("/api/v2/alerts"), timeout=10) as r:
            return json.load(r)


__all__ = ["Alertmanager", "Webhook", "require_alertmanager", "promserver"]
