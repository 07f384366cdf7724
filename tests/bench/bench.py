#!/usr/bin/env python3
"""Self-contained benchmark of maillog_exporter (meson benchmark 'bench').

Generates its own realistic Postfix log (gen_log.py beside this file), then
measures and prints, for the binary in $MAILLOG_EXPORTER:

  once      --once over the file: lines/s, CPU s per 1M lines, peak RSS
  daemon    started on an empty file, the log appended in 1 MiB writes,
            /metrics polled every 10 ms until every line is counted:
            lines/s, CPU s per 1M lines, peak RSS (VmHWM)
  scraped   the same while 10 scrapers poll /metrics every 100 ms
  latency   single-line appends, each polled every ~1 ms until it shows on
            /metrics: median and p99 milliseconds
  idle      CPU seconds and wake-ups (context switches) over an idle period
  scrape    response time of /metrics with ~10,000 series, plain and gzip

It asserts nothing about speed (performance is measured, not tested); it
fails only if the exporter miscounts. Sizes: BENCH_LINES (default 1000000),
BENCH_IDLE_SECONDS (60), BENCH_LATENCY_SAMPLES (1000). Build with
--buildtype=release for meaningful numbers:

  meson setup build-release --buildtype=release
  meson test -C build-release --benchmark --verbose
"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import harness  # noqa: E402

harness.require_binary()
BIN = harness.BIN
LINES = int(os.environ.get("BENCH_LINES", "1000000"))
IDLE = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
SAMPLES = int(os.environ.get("BENCH_LATENCY_SAMPLES", "1000"))
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def ctx_switches(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def lines_read(d):
    m = d.metrics()
    return sum(v for (name, _), v in m.items() if name == "maillog_lines_read_total")


def status_total(m):
    return sum(v for (name, _), v in m.items() if name == "maillog_smtp_status_total")


def report(name, **kv):
    print("%-8s " % name + "  ".join("%s=%s" % (k, v) for k, v in kv.items()))
    sys.stdout.flush()


def bench_once(log, truth):
    """Best of three. Peak RSS comes from GNU time (package `time`) when it
    is there: a child forked from this Python process would report Python's
    RSS, which survives fork and exec in ru_maxrss."""
    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    best = None
    for _ in range(3):
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            cmd = [BIN, "--once", "--maillog.path=" + log]
            if gnu_time:
                cmd = [gnu_time, "-f", "TIME %M %U %S"] + cmd
            t0 = time.monotonic()
            p = subprocess.run(cmd, stdout=out, stderr=err)
            wall = time.monotonic() - t0
            err.seek(0)
            errtext = err.read().decode("utf-8", "replace")
            if p.returncode != 0:
                raise SystemExit("--once failed: " + errtext)
            out.seek(0)
            m = harness.parse_metrics(out.read().decode())
        if status_total(m) != truth["status_lines"]:
            raise SystemExit("--once counted %d status lines, expected %d"
                             % (status_total(m), truth["status_lines"]))
        rss, cpu = None, None
        for line in errtext.splitlines():
            if line.startswith("TIME "):
                kib, user, system = line.split()[1:]
                rss, cpu = int(kib) / 1024, float(user) + float(system)
        if best is None or wall < best[0]:
            best = (wall, cpu, rss)
    wall, cpu, rss = best
    report("once", lines_per_s="%.0f" % (LINES / wall), wall_s="%.3f" % wall,
           cpu_s_per_1M="%.3f" % (cpu * 1e6 / LINES) if cpu is not None else "n/a",
           max_rss_mib="%.1f" % rss if rss is not None else "n/a (no /usr/bin/time)")


def bench_daemon(log, truth, scrapers=0):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mail.log")
        open(path, "w").close()
        with harness.Daemon("--maillog.path=" + path) as dm:
            time.sleep(1)
            stop = threading.Event()
            scraped = [0]

            def scrape():
                while not stop.is_set():
                    dm.get("/metrics")
                    scraped[0] += 1
                    time.sleep(0.1)
            threads = [threading.Thread(target=scrape) for _ in range(scrapers)]
            for t in threads:
                t.start()
            cpu0 = proc_cpu(dm.proc.pid)
            t0 = time.monotonic()
            harness.append_all(log, path)
            while lines_read(dm) < LINES:
                if time.monotonic() - t0 > 300:
                    raise SystemExit("daemon did not catch up within 300 s")
                time.sleep(0.01)
            wall = time.monotonic() - t0
            cpu = proc_cpu(dm.proc.pid) - cpu0
            stop.set()
            for t in threads:
                t.join()
            m = dm.metrics()
            if status_total(m) != truth["status_lines"]:
                raise SystemExit("daemon counted %d status lines, expected %d"
                                 % (status_total(m), truth["status_lines"]))
            hwm = proc_status(dm.proc.pid, "VmHWM")
            report("scraped" if scrapers else "daemon", lines_per_s="%.0f" % (LINES / wall),
                   wall_s="%.3f" % wall, cpu_s_per_1M="%.3f" % (cpu * 1e6 / LINES),
                   peak_rss_mib="%.1f" % (hwm / 1024),
                   **({"scrapes": scraped[0]} if scrapers else {}))


def bench_latency_and_idle():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mail.log")
        open(path, "w").close()
        with harness.Daemon("--maillog.path=" + path) as dm:
            url = dm.url("/metrics")
            lat = []
            with open(path, "a") as f:
                for n in range(SAMPLES):
                    f.write(harness.postfix_line(n) + "\n")
                    f.flush()
                    t0 = time.monotonic()
                    want = "maillog_lines_read_total{path=\"%s\"} %d" % (path, n + 1)
                    while True:
                        with urllib.request.urlopen(url, timeout=5) as r:
                            if want in r.read().decode():
                                break
                        time.sleep(0.001)
                    lat.append((time.monotonic() - t0) * 1000)
            lat.sort()
            report("latency", median_ms="%.2f" % statistics.median(lat),
                   p99_ms="%.2f" % lat[int(len(lat) * 0.99) - 1], samples=len(lat))

            time.sleep(2)
            cpu0, sw0 = proc_cpu(dm.proc.pid), ctx_switches(dm.proc.pid)
            time.sleep(IDLE)
            cpu, sw = proc_cpu(dm.proc.pid) - cpu0, ctx_switches(dm.proc.pid) - sw0
            report("idle", seconds="%.0f" % IDLE, cpu_s="%.3f" % cpu, wakeups=sw,
                   wakeups_per_s="%.2f" % (sw / IDLE))


def bench_scrape():
    """~10,000 series: every reply code 200..599 with 25 enhanced codes."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "mail.log")
        n = 0
        with open(path, "w") as f:
            for code in range(200, 600):
                cls = str(code)[0] if code < 300 or code >= 400 else "4"
                for k in range(25):
                    enh = "%s.%d.%d" % ("5" if code >= 500 else ("4" if code >= 300 else "2"),
                                        k // 5, k % 5)
                    f.write(harness.postfix_line(n, str(code), enh,
                                                 status={"2": "sent", "4": "deferred",
                                                         "5": "bounced"}[cls]) + "\n")
                    n += 1
        with harness.Daemon("--maillog.path=" + path, "--maillog.start=beginning",
                            "--metrics.max-series=20000") as dm:
            dm.wait_for(lambda m: lines_read_m(m) >= n)
            for enc in ("identity", "gzip"):
                times, size = [], 0
                for i in range(30):
                    t0 = time.monotonic()
                    _, _, body = dm.get("/metrics", headers={"Accept-Encoding": enc})
                    times.append((time.monotonic() - t0) * 1000)
                    size = len(body)
                report("scrape", encoding=enc, series=n, bytes=size,
                       first_ms="%.2f" % times[0], cached_median_ms="%.2f" % statistics.median(times[1:]))


def lines_read_m(m):
    return sum(v for (name, _), v in m.items() if name == "maillog_lines_read_total")


def main():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "bench.log")
        gen = os.path.join(HERE, "gen_log.py")
        with open(log, "w") as f:
            subprocess.run([sys.executable, gen, "--lines", str(LINES)], stdout=f, check=True)
        truth = __import__("json").loads(subprocess.run(
            [sys.executable, gen, "--lines", str(LINES), "--truth"], capture_output=True,
            check=True).stdout)
        report("input", lines=LINES, bytes=os.path.getsize(log),
               status_lines=truth["status_lines"])
        bench_once(log, truth)
        bench_daemon(log, truth)
        bench_daemon(log, truth, scrapers=10)
    bench_scrape()
    bench_latency_and_idle()


if __name__ == "__main__":
    main()
