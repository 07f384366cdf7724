"""Load on the HTTP endpoint of the real daemon, bounded in time:

1. With the limits raised (--web.max-connections=200,
   --web.max-connections-per-ip=200), 100 concurrent keep-alive
   connections scrape /metrics (wrk, or a thread pool when wrk is not
   installed) for LOAD_SECONDS (default 15; 30 or more for a longer soak)
   while a writer appends lines as fast as the tailer ingests them. No
   request fails, the counts are exact afterwards, and RSS stays flat
   after a warm-up.
2. At the default limits (64 connections, 8 per address), the extra
   connections are closed at once, and the admitted ones keep working.
3. Slowloris: many sockets sending their headers a byte at a time, from
   many loopback addresses, never delay a normal scraper beyond a bound.

Figures (requests/s, connections held, RSS, latencies) are printed."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import harness
from harness import code_for, postfix_line, status_counts

harness.require_binary()
cases = harness.Cases()
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
# Sanitizer builds keep freed memory in a quarantine (256 MiB by default),
# which would read as growth: cap it so RSS can level off.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"
# Stop writing past this much log, whatever the duration.
MAX_LOG_BYTES = 1 << 30


class Daemon(harness.Daemon):
    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None:
            err = self.stderr()
            assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
            assert rc == 0, "daemon exited %s: %s" % (rc, err[-1000:])


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def lines_read(dm, path):
    """How many lines of path the daemon has read (its own counter)."""
    v = harness.value(dm.metrics(), "maillog_lines_read_total", path=path)
    return int(v or 0)


def established(port):
    """Established TCP connections whose local port is port (server side)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "01" and int(parts[1].split(":")[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


class Writer(threading.Thread):
    """Appends Postfix lines in blocks of 1000 as fast as the daemon reads
    them (at most AHEAD lines ahead of its maillog_lines_read_total)."""
    AHEAD = 200000

    def __init__(self, path, dm):
        super().__init__(daemon=True)
        self.path, self.dm = path, dm
        self.stop_flag = threading.Event()
        self.lines = 0
        self.bytes = 0
        self.want = {}
        # One block, written again and again: line n's code is code_for(n).
        block = [postfix_line(n, *code_for(n)) for n in range(1000)]
        self.block = ("\n".join(block) + "\n").encode()
        self.per_block = {}
        for n in range(1000):
            k = code_for(n)
            self.per_block[k] = self.per_block.get(k, 0) + 1

    def run(self):
        with open(self.path, "ab", buffering=0) as f:
            while not self.stop_flag.is_set() and self.bytes < MAX_LOG_BYTES:
                if self.lines % 50000 == 0:
                    while (self.lines - lines_read(self.dm, self.path) > self.AHEAD and
                           not self.stop_flag.is_set()):
                        time.sleep(0.01)
                f.write(self.block)
                self.bytes += len(self.block)
                self.lines += 1000
                for k, v in self.per_block.items():
                    self.want[k] = self.want.get(k, 0) + v


def run_wrk(url, seconds, conns):
    """wrk's figures: (requests, requests/s, errors text or '', latency line)."""
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s",
                          "--latency", url], capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    m = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = "\n".join(l for l in out.splitlines()
                       if "Socket errors" in l or "Non-2xx" in l)
    lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    assert m and rps, out
    return (int(m.group(1)), float(rps.group(1)), errors,
            "latency avg %s max %s p99 %s" % (lat.group(1), lat.group(3),
                                              p99.group(1) if p99 else "?"), out)


def run_pool(port, seconds, conns):
    """The same with threads, each holding one keep-alive connection."""
    import http.client
    counts = [0] * conns
    failures = []
    deadline = time.monotonic() + seconds

    def worker(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            try:
                c.request("GET", "/metrics")
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    failures.append(r.status)
                counts[i] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts)
    return (total, total / (time.monotonic() - t0), "\n".join(map(str, failures[:5])),
            "", "")


def test_100_concurrent_scrapers_while_ingesting():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        with Daemon("--maillog.path=" + log, "--web.max-connections=200",
                    "--web.max-connections-per-ip=200") as dm:
            pid = dm.proc.pid
            writer = Writer(log, dm)
            writer.start()
            rss, held = [], []
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    rss.append(rss_kib(pid))
                    held.append(established(dm.port))
                    stop.wait(0.25)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            secs = max(1, int(SECONDS))
            if shutil.which("wrk"):
                tool = "wrk"
                total, rps, errors, lat, raw = run_wrk(dm.url("/metrics"), secs, 100)
            else:
                tool = "python thread pool"
                total, rps, errors, lat, raw = run_pool(dm.port, secs, 100)
            stop.set()
            sampler.join()
            writer.stop_flag.set()
            writer.join()
            assert errors == "", "failed requests:\n" + errors + "\n" + raw

            # Every line written is counted exactly, once the tailer is done.
            m = dm.wait_for(lambda m: sum(status_counts(m).values()) >= writer.lines,
                            timeout=120)
            got = status_counts(m, mta="postfix", direction="outbound")
            want = {k: v for k, v in writer.want.items()}
            assert got == want, (got, want)

            # RSS: skip the first quarter (warm-up: buffers, the rendered
            # body reaching its size); after that, the peak of the last
            # quarter may exceed the peak of the second by at most 4 MiB
            # (sanitizer builds keep up to 4 MiB of freed memory).
            q = len(rss) // 4
            assert q >= 2, rss
            warm, mid, last = rss[q], max(rss[q:2 * q]), max(rss[3 * q:])
            growth = last - mid
            print("     %s: %d requests in %d s, %.0f req/s, %s; up to %d connections "
                  "established at once; %d lines ingested (%.0f lines/s); RSS %d KiB at "
                  "start, %d after warm-up, %d at the end (growth after warm-up %+d KiB)"
                  % (tool, total, secs, rps, lat, max(held), writer.lines,
                     writer.lines / secs, rss[0], warm, rss[-1], growth))
            assert max(held) >= 100, "only %d connections held" % max(held)
            assert growth <= 4096, "RSS grew %d KiB after warm-up: %s" % (growth, rss)


def connect_from(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((ip, 0))
    s.connect(("127.0.0.1", port))
    return s


def request(s, path="/healthz"):
    """One keep-alive request on an open socket: the status, or None when
    the server closed the connection without answering."""
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None
            data += chunk
    except (ConnectionResetError, socket.timeout):
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
    while len(rest) < length:
        rest += s.recv(4096)
    return int(head.split()[1])


def test_past_the_limits():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        with Daemon("--maillog.path=" + log) as dm:
            socks = []
            try:
                # Per address: the 9th from 127.0.0.2 is closed unanswered.
                for _ in range(8):
                    s = connect_from("127.0.0.2", dm.port)
                    socks.append(s)
                    assert request(s) == 200
                extra = connect_from("127.0.0.2", dm.port)
                assert request(extra) is None, "9th connection from one address answered"
                extra.close()
                # Overall: 64 (8 addresses x 8), then a 65th from a fresh address.
                for ip in range(3, 10):
                    for _ in range(8):
                        s = connect_from("127.0.0.%d" % ip, dm.port)
                        socks.append(s)
                        assert request(s) == 200
                assert len(socks) == 64
                extra = connect_from("127.0.0.20", dm.port)
                assert request(extra) is None, "65th connection answered"
                extra.close()
                # The admitted ones are unaffected, and a freed slot is reused.
                for s in socks:
                    assert request(s, "/metrics") == 200
                socks.pop().close()
                time.sleep(0.2)
                s = connect_from("127.0.0.20", dm.port)
                socks.append(s)
                assert request(s) == 200
                print("     64 held, 65th and 9th-per-address closed unanswered, the 64 "
                      "answered again")
            finally:
                for s in socks:
                    s.close()
            assert "limit" in dm.stderr().lower(), dm.stderr()[-2000:]


def test_slowloris():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        with Daemon("--maillog.path=" + log) as dm:
            slow = []
            stop = threading.Event()
            # 7 sockets from each of 8 addresses (56 of the 64 slots), plus 20
            # more from one address, of which the per-address limit admits 8.
            for ip in range(2, 10):
                for _ in range(7 if ip != 9 else 20):
                    try:
                        slow.append(connect_from("127.0.0.%d" % ip, dm.port))
                    except OSError:
                        pass
            req = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000

            def dribble():
                i = 0
                while not stop.is_set():
                    for s in slow:
                        try:
                            s.send(req[i % len(req):i % len(req) + 1])
                        except OSError:
                            pass
                    i += 1
                    stop.wait(0.2)

            t = threading.Thread(target=dribble, daemon=True)
            t.start()
            time.sleep(1)
            lat = []
            deadline = time.monotonic() + min(8.0, SECONDS)
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                status, _, _ = dm.get("/metrics")
                lat.append(time.monotonic() - t0)
                assert status == 200, status
                time.sleep(0.05)
            open_slow = established(dm.port)
            stop.set()
            t.join()
            for s in slow:
                s.close()
            lat.sort()
            print("     %d slow sockets open (%d connected to the server); %d scrapes, "
                  "median %.1f ms, max %.1f ms"
                  % (len(slow), open_slow, len(lat), lat[len(lat) // 2] * 1e3,
                     lat[-1] * 1e3))
            assert open_slow >= 56, open_slow
            assert lat[-1] < 2.0, "a scrape took %.2f s behind slow clients" % lat[-1]


cases.run(test_100_concurrent_scrapers_while_ingesting)
cases.run(test_past_the_limits)
cases.run(test_slowloris)
cases.finish()
