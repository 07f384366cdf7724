#!/usr/bin/env python3
"""What following many files under one glob costs (not a timed test).

Runs the daemon in $MAILLOG_EXPORTER (or argv[1]) twice on a central log
server's layout, /TMP/hosts/<host>/mail.log:

  1 file     one host
  N files    BENCH_GLOB_FILES hosts (default 1000)

Each file is written to (BENCH_GLOB_LINES lines, default 20) and read
(waited for on /metrics: the files' maillog_lines_read_total series add up
to the count, one series per file), then
left idle. It prints, from /proc/PID of the daemon: VmRSS after the files
went idle (one reconcile interval with no data frees their line buffers;
it waits until VmRSS stops falling), VmHWM, and CPU (utime + stime, in
clock ticks) over BENCH_GLOB_IDLE seconds (default 10) of idleness, and
over one full sweep (30 s, the 15th reconcile re-checks every file and
globs again) when BENCH_GLOB_SWEEP=1.

It fails only if a count is wrong. Build with --buildtype=release:

  meson setup /tmp/build-release --buildtype=release && ninja -C /tmp/build-release
  MAILLOG_EXPORTER=/tmp/build-release/daemon/maillog_exporter python3 tests/bench/glob_files.py
"""
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
if len(sys.argv) > 1:
    os.environ["MAILLOG_EXPORTER"] = sys.argv[1]
import harness  # noqa: E402

harness.BIN = os.environ.get("MAILLOG_EXPORTER", "")
harness.require_binary()
NFILES = int(os.environ.get("BENCH_GLOB_FILES", "1000"))
NLINES = int(os.environ.get("BENCH_GLOB_LINES", "20"))
IDLE = float(os.environ.get("BENCH_GLOB_IDLE", "10"))
SWEEP = os.environ.get("BENCH_GLOB_SWEEP", "0") == "1"


def proc_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def proc_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def lines_read(m):
    """The glob's files' series summed (the pattern has none of its own)."""
    return sum(v for (name, _), v in m.items() if name == "maillog_lines_read_total")


def run(nfiles):
    tmp = tempfile.mkdtemp(prefix="mlx-globbench-")
    try:
        hosts = os.path.join(tmp, "hosts")
        os.makedirs(hosts)
        pattern = os.path.join(hosts, "*", "mail.log")
        with harness.Daemon("--maillog.path=" + pattern, "--maillog.start=beginning",
                            "--maillog.max-files=%d" % max(nfiles, 1)) as d:
            pid = d.proc.pid
            n = 0
            for h in range(nfiles):
                os.makedirs(os.path.join(hosts, "h%04d" % h))
                with open(os.path.join(hosts, "h%04d" % h, "mail.log"), "w") as f:
                    for _ in range(NLINES):
                        n += 1
                        code, enh = harness.code_for(n)
                        f.write(harness.postfix_line(n, code, enh, host="h%04d" % h) + "\n")
            m = d.wait_for(lambda m: lines_read(m) == n, timeout=300)
            got = lines_read(m)
            assert got == n, (got, n, d.stderr()[-2000:])
            series = sum(1 for (name, _) in m if name == "maillog_lines_read_total")
            assert series == nfiles, (series, nfiles)
            files = harness.value(m, "maillog_glob_files", path=pattern)
            assert files == nfiles, (files, nfiles)
            # Idle: wait until VmRSS stops falling (the buffers are freed
            # one reconcile interval after the last data).
            last, stable = proc_kib(pid, "VmRSS"), 0
            while stable < 3:
                time.sleep(1.0)
                cur = proc_kib(pid, "VmRSS")
                stable = stable + 1 if cur >= last else 0
                last = min(last, cur)
            rss, hwm = proc_kib(pid, "VmRSS"), proc_kib(pid, "VmHWM")
            t0 = proc_ticks(pid)
            time.sleep(IDLE)
            idle_ticks = proc_ticks(pid) - t0
            sweep_ticks = None
            if SWEEP:
                t0 = proc_ticks(pid)
                time.sleep(31)
                sweep_ticks = proc_ticks(pid) - t0
            m = d.metrics()
            assert lines_read(m) == n
            return rss, hwm, idle_ticks, sweep_ticks
    finally:
        shutil.rmtree(tmp)


def main():
    tick = os.sysconf("SC_CLK_TCK")
    one = run(1)
    many = run(NFILES)
    for name, r in (("1 file", one), ("%d files" % NFILES, many)):
        print("%-11s VmRSS %6d KiB  VmHWM %6d KiB  idle CPU over %.0f s: %d ticks (%.3f s)%s"
              % (name, r[0], r[1], IDLE, r[2], r[2] / tick,
                 "" if r[3] is None else
                 "  over a 31 s sweep: %d ticks (%.3f s)" % (r[3], r[3] / tick)))
    print("VmRSS difference: %.2f MiB (budget 4 MiB); VmHWM difference %.2f MiB"
          % ((many[0] - one[0]) / 1024, (many[1] - one[1]) / 1024))


if __name__ == "__main__":
    main()
