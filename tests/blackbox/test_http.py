"""The HTTP endpoint of the real daemon: routes, headers, methods, health,
shared rendering under concurrent scrapes, connection limits, and newly
appended lines showing up on the next scrape."""
import http.client
import os
import socket
import tempfile
import threading
import time

import harness
from harness import postfix_line, status_counts

harness.require_binary()


class Daemon(harness.Daemon):
    """harness.Daemon that also fails the case if the daemon did not exit
    0 on SIGTERM or a sanitizer reported anything (ASan/UBSan builds)."""

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None:
            err = self.stderr()
            assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
            assert rc == 0, "daemon exited %s: %s" % (rc, err[-1000:])
cases = harness.Cases()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def raw_request(port, method, path, body=None):
    """(status, headers dict, body) with the path sent exactly as given
    (urllib would normalise "/../")."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def with_log(fn):
    """Run fn(daemon, log_path) against a daemon following an existing log."""
    def run():
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "mail.log")
            open(p, "w").close()
            with Daemon("--maillog.path=" + p) as dm:
                fn(dm, p)
    run.__name__ = fn.__name__
    return run


@with_log
def test_metrics_headers_and_body(dm, p):
    status, headers, body = dm.get("/metrics")
    assert status == 200, status
    assert headers["Content-Type"] == CONTENT_TYPE, headers["Content-Type"]
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    text = body.decode("utf-8")
    assert "# TYPE maillog_smtp_status_total counter\n" in text
    assert "maillog_lines_read_total{path=\"%s\"} 0\n" % p in text
    assert text.endswith("\n")
    harness.parse_metrics(text)


@with_log
def test_landing_page_links(dm, p):
    status, headers, body = dm.get("/")
    assert status == 200, status
    assert headers["Content-Type"].startswith("text/html"), headers["Content-Type"]
    assert b'href="/metrics"' in body, body
    assert b'href="/healthz"' in body, body


@with_log
def test_methods_other_than_get_head_refused(dm, p):
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in ("/metrics", "/", "/healthz", "/nope"):
            status, headers, _ = raw_request(dm.port, method, path, body=b"x=1")
            assert status == 405, (method, path, status)
            assert headers.get("allow") == "GET, HEAD", (method, headers)
    # The server is still fine afterwards.
    assert dm.get("/metrics")[0] == 200


@with_log
def test_unknown_paths_404(dm, p):
    for path in ("/nope", "/metrics/", "//metrics", "/metricsx", "/../etc/passwd",
                 "/%2e%2e/etc/passwd", "/healthz/../../etc/passwd", "/index.html",
                 "/" + "a" * 1000):
        status, _, body = raw_request(dm.port, "GET", path)
        assert status == 404, (path, status)
        assert b"root:" not in body
    # A query string is not part of the path.
    assert raw_request(dm.port, "GET", "/metrics?x=1")[0] == 200


@with_log
def test_head_same_headers_no_body(dm, p):
    c = http.client.HTTPConnection("127.0.0.1", dm.port, timeout=5)
    try:
        for path in ("/metrics", "/", "/healthz"):
            c.request("HEAD", path)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, (path, r.status)
            assert body == b"", body
            assert int(r.getheader("Content-Length")) > 0
            if path == "/metrics":
                assert r.getheader("Content-Type") == CONTENT_TYPE
        # Same connection, still usable (keep-alive) and GET has a body.
        c.request("GET", "/metrics")
        r = c.getresponse()
        assert r.status == 200 and len(r.read()) > 0
    finally:
        c.close()


def test_healthz_absent_then_present():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        with Daemon("--maillog.path=" + p) as dm:
            status, headers, body = dm.get("/healthz")
            assert status == 503, (status, body)
            assert headers["Content-Type"].startswith("text/plain")
            text = body.decode()
            assert text == "%s: waiting (file does not exist yet)\n" % p, text
            m = dm.metrics()
            assert harness.value(m, "maillog_source_state", path=p, state="waiting") == 1
            with open(p, "w") as f:
                f.write(postfix_line(1) + "\n")
            deadline = time.monotonic() + 10
            while True:
                status, _, body = dm.get("/healthz")
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert (status, body) == (200, b"ok\n"), (status, body)
            m = dm.metrics()
            assert harness.value(m, "maillog_source_state", path=p, state="following") == 1


def test_custom_telemetry_path():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        open(p, "w").close()
        with Daemon("--maillog.path=" + p, "--web.telemetry-path=/custom/x") as dm:
            status, headers, body = dm.get("/custom/x")
            assert status == 200 and headers["Content-Type"] == CONTENT_TYPE
            assert b"maillog_smtp_status_total" in body
            assert dm.get("/metrics")[0] == 404
            assert b'href="/custom/x"' in dm.get("/")[2]


def test_concurrent_scrapes_share_one_rendering():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        open(p, "w").close()
        n = 20
        with Daemon("--maillog.path=" + p, "--web.max-connections-per-ip=%d" % (n + 4),
                    "--log.level=debug") as dm:
            # Two rounds; a round takes well under the 1 s cache lifetime,
            # so every body in it must be the same rendering, byte for
            # byte, process_* values included.
            for _ in range(2):
                barrier = threading.Barrier(n)
                results = [None] * n

                def scrape(i):
                    barrier.wait()
                    try:
                        results[i] = dm.get("/metrics")
                    except Exception as e:  # noqa: BLE001 - reported below
                        results[i] = e

                dm.get("/metrics")  # prime the cache
                threads = [threading.Thread(target=scrape, args=(i,)) for i in range(n)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                for r in results:
                    assert not isinstance(r, Exception), r
                    assert r[0] == 200, r[0]
                bodies = {r[2] for r in results}
                assert len(bodies) == 1, "%d different bodies" % len(bodies)
            # 2 primes + 40 scrapes; at most one render per round beyond the
            # primes, and only if a round crossed the 1 s cache lifetime.
            renders = dm.stderr().count("rendered metrics")
            assert 1 <= renders <= 4, "%d renders for 42 scrapes" % renders


def closed_by_peer(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_per_ip_limit_refuses_cleanly():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        open(p, "w").close()
        with Daemon("--maillog.path=" + p, "--web.max-connections-per-ip=2") as dm:
            held = [socket.create_connection(("127.0.0.1", dm.port)) for _ in range(2)]
            time.sleep(0.2)  # let the server accept both
            extra = socket.create_connection(("127.0.0.1", dm.port))
            try:
                assert closed_by_peer(extra, 3), "third connection from one IP was kept"
                # The held ones still work.
                for s in held:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    s.settimeout(5)
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    assert data.startswith(b"HTTP/1.1 200"), data[:40]
            finally:
                extra.close()
                for s in held:
                    s.close()
            # Slots are released: a normal scrape works again.
            deadline = time.monotonic() + 5
            while True:
                try:
                    if dm.get("/metrics")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "server did not recover"
                time.sleep(0.05)
            assert dm.proc.poll() is None


def test_idle_connection_timeout():
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mail.log")
        open(p, "w").close()
        with Daemon("--maillog.path=" + p, "--web.timeout=1") as dm:
            s = socket.create_connection(("127.0.0.1", dm.port))
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\n")  # never finished
                t0 = time.monotonic()
                assert closed_by_peer(s, 5), "idle connection not closed"
                assert time.monotonic() - t0 < 4
            finally:
                s.close()


@with_log
def test_appended_lines_visible_on_next_scrape(dm, p):
    # Read the counters once, so the cached rendering is current; a newly
    # counted line must invalidate it at once, not after the 1 s lifetime.
    before = status_counts(dm.metrics())
    assert before == {}, before
    with open(p, "a") as f:
        f.write(postfix_line(1, "250", "2.0.0") + "\n")
        f.write(postfix_line(2, "550", "5.1.1") + "\n")
        f.write("partial line without newline " + postfix_line(3))
    m = dm.wait_for(lambda m: sum(status_counts(m).values()) >= 2, timeout=10)
    assert status_counts(m, mta="postfix", direction="outbound") == \
        {("250", "2.0.0"): 1, ("550", "5.1.1"): 1}, status_counts(m)
    assert harness.value(m, "maillog_lines_read_total", path=p) == 2
    # Measure how soon a line shows up: inotify-driven, no batching.
    t0 = time.monotonic()
    with open(p, "a") as f:
        f.write("\n" + postfix_line(4, "451", "4.3.0") + "\n")
    m = dm.wait_for(lambda m: ("451", "4.3.0") in status_counts(m), timeout=10)
    delay = time.monotonic() - t0
    assert ("451", "4.3.0") in status_counts(m)
    # Under the 1 s cache lifetime: the count invalidated the cache.
    assert delay < 0.8, "line took %.3f s to show up" % delay


for fn in (test_metrics_headers_and_body, test_landing_page_links,
           test_methods_other_than_get_head_refused, test_unknown_paths_404,
           test_head_same_headers_no_body, test_healthz_absent_then_present,
           test_custom_telemetry_path, test_concurrent_scrapes_share_one_rendering,
           test_per_ip_limit_refuses_cleanly, test_idle_connection_timeout,
           test_appended_lines_visible_on_next_scrape):
    cases.run(fn)
cases.finish()
