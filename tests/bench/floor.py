#!/usr/bin/env python3
"""The single-regex floor for each log format (meson benchmark 'floor').

Issue 20's targets, measured side by side in one run: for Postfix, Exim and
Sendmail logs it runs, interleaved, BENCH_FLOOR_RUNS times (default 5):

  pcre2grep  `pcre2grep -c` (JIT, its default) with one delivery regex that
             fits the format (FLOOR_RE below): the floor
  once       `maillog_exporter --once` over the same page-cached file
  report     `maillog_exporter report` over it (wall time only)
  daemon     the daemon started on an empty file, the log appended in 1 MiB
             writes, /metrics polled every 0.1 s until every line is read,
             then stopped. Its CPU is what its threads ran from the first
             write until the last line was counted (schedstat, nanoseconds),
             as anchors.sh counts it: a daemon starts once and reads for
             months. What starting and stopping cost on top (libmicrohttpd
             and GnuTLS loaded, the listener, the exit) is printed beside.

CPU seconds of the one-shot programs come from wait4(2) (user + system,
every thread, microseconds): /proc's clock ticks are 10 ms, too coarse for
runs of 0.2 s. It prints, per format and per program, the minimum CPU and
wall seconds per 1 M lines, the ratio of the minimums to pcre2grep's and the
median of the per-run ratios (pcre2grep and the program in the same run).
Minimums, because a shared VM only ever adds time; paired ratios, because
its noise moves both together.

It asserts nothing about speed; it fails only if a count is wrong: --once's
and the daemon's status lines must equal gen_log.py's truth, or, for a log
given with --log, each other.

  MAILLOG_EXPORTER=build/daemon/maillog_exporter tests/bench/floor.py
  tests/bench/floor.py --format exim --log exim.log   # e.g. gen_maillog.py's

Environment: BENCH_LINES (default 1000000) sizes the generated logs,
BENCH_FLOOR_RUNS (default 5) the runs, BENCH_FLOOR_FORMATS (default
postfix,exim,sendmail) the formats.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import harness  # noqa: E402

# One realistic delivery-line regex per format: what a one-pattern tool
# (grep_exporter, a single mtail rule) must match at least. The Postfix one
# is the team's side-by-side harness's; Exim's and Sendmail's fit the
# syslog lines of gen_log.py and of the team's gen_maillog.py.
FLOOR_RE = {
    "postfix": r"postfix/(smtp|lmtp|local|virtual|pipe|error)\[[0-9]+\]: [0-9A-F]+: "
               r"to=<[^>]*>, .*dsn=([245]\.[0-9]{1,3}\.[0-9]{1,3}), "
               r"status=(sent|deferred|bounced) ",
    "exim": r"exim\[[0-9]+\]: [0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2} "
            r"(=>|->|\*\*|==) [^ ]+ .*T=[^ ]+",
    "sendmail": r"(sendmail|sm-mta)\[[0-9]+\]: [0-9A-Za-z]+: to=[^,]+, "
                r".*dsn=([245]\.[0-9]{1,3}\.[0-9]{1,3}), stat=[A-Z][a-z]+",
}
# gen_log.py's --format for each: Exim's lines as it logs them through
# syslog, the shape the regex (and gen_maillog.py) has.
GEN_FORMAT = {"postfix": "postfix", "exim": "exim-syslog", "sendmail": "sendmail"}


def pin_cpus():
    """(the measured programs' CPUs, this process's): with two or more, the
    measured programs share one and this process (the writer, the poller)
    keeps off it. A VM's vCPUs can differ in speed for minutes at a time
    (a neighbour on the host's core), so pcre2grep and the exporter must
    meet the same one for their ratio to mean anything."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


MEASURED, OURS = pin_cpus()


def spawn(cmd, **kw):
    """Popen on the measured CPU. Not by preexec_fn: that makes Python
    fork rather than vfork, and the child's copy-on-write faults in
    Python's memory (about 8 ms here) would count as the program's CPU."""
    if not MEASURED:
        return subprocess.Popen(cmd, **kw)
    os.sched_setaffinity(0, MEASURED)
    try:
        return subprocess.Popen(cmd, **kw)
    finally:
        os.sched_setaffinity(0, OURS)


def wait_cpu(proc):
    """Reap proc; (exit status, CPU seconds of all its threads)."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, ru.ru_utime + ru.ru_stime


def timed(cmd, stdout=subprocess.DEVNULL):
    """(exit code, CPU s, wall s) of one run of cmd."""
    t0 = time.perf_counter()
    p = spawn(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    rc, cpu = wait_cpu(p)
    return rc, cpu, time.perf_counter() - t0


def run_ns(pid):
    """CPU nanoseconds the process's threads have run (schedstat: exact,
    where /proc/PID/stat counts 10 ms ticks)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:    # a thread that just ended
            pass
    return total


def status_lines(text):
    return sum(v for (name, _), v in harness.parse_metrics(text).items()
               if name == "maillog_smtp_status_total")


def lines_read(addr):
    with urllib.request.urlopen("http://%s/metrics" % addr, timeout=5) as r:
        m = harness.parse_metrics(r.read().decode())
    return (sum(v for (name, _), v in m.items() if name == "maillog_lines_read_total"),
            sum(v for (name, _), v in m.items() if name == "maillog_smtp_status_total"))


def run_once(log):
    with tempfile.TemporaryFile() as out:
        rc, cpu, wall = timed([harness.BIN, "--once", "--maillog.path=" + log], stdout=out)
        out.seek(0)
        text = out.read().decode()
    if rc != 0:
        raise SystemExit("--once exited %d" % rc)
    return cpu, wall, status_lines(text)


def run_report(log):
    rc, cpu, wall = timed([harness.BIN, "report", log])
    if rc != 0:
        raise SystemExit("report exited %d" % rc)
    return cpu, wall


def run_daemon(log, lines, tmp):
    # harness.Daemon, started by spawn() so that it runs on the measured
    # CPU, and reaped by wait_cpu() rather than Daemon.stop(): Popen.wait
    # throws away the rusage that gives the start and stop's cost.
    path = os.path.join(tmp, "daemon.log")
    open(path, "w").close()
    try:
        d = harness.Daemon("--maillog.path=" + path, spawn=spawn)
    except AssertionError as e:
        raise SystemExit(str(e))
    try:
        ns0 = run_ns(d.proc.pid)
        harness.append_all(log, path)
        deadline = time.monotonic() + 300
        while True:
            n, status = lines_read(d.addr)
            if n >= lines:
                break
            if time.monotonic() > deadline:
                raise SystemExit("daemon read %d of %d lines in 300 s" % (n, lines))
            time.sleep(0.1)
        lines_cpu = (run_ns(d.proc.pid) - ns0) / 1e9
    finally:
        if d.proc.returncode is None:
            d.proc.send_signal(signal.SIGTERM)
    rc, cpu = wait_cpu(d.proc)
    if rc != 0:
        raise SystemExit("daemon exited %d: %s" % (rc, d.stderr()))
    d.errfile.close()
    os.unlink(path)
    return lines_cpu, cpu - lines_cpu, status


def measure(fmt, log, truth, runs, tmp):
    try:
        with open(log, "rb") as f:
            lines = sum(1 for _ in f)
    except OSError as e:
        raise SystemExit("cannot read %s: %s" % (log, e.strerror))
    if lines == 0:
        raise SystemExit("%s holds no line to measure" % log)
    grep = [shutil.which("pcre2grep"), "-c", FLOOR_RE[fmt], log]
    rc, _, _ = timed(grep)               # the page cache, for every one
    if rc not in (0, 1):
        raise SystemExit("pcre2grep exited %d" % rc)
    res = {"pcre2grep": [], "once": [], "report": [], "daemon": []}
    want = truth
    for i in range(runs):
        _, cpu, wall = timed(grep)
        res["pcre2grep"].append((cpu, wall))
        order = ("once", "report", "daemon") if i % 2 == 0 else ("daemon", "report", "once")
        for prog in order:
            if prog == "once":
                cpu, wall, status = run_once(log)
            elif prog == "report":
                cpu, wall = run_report(log)
                status = None
            else:
                cpu, wall, status = run_daemon(log, lines, tmp)
            if status is not None:
                if want is None:
                    want = status
                if status != want:
                    raise SystemExit("%s: %s counted %d status lines, expected %d"
                                     % (fmt, prog, status, want))
            res[prog].append((cpu, wall))
    per = 1e6 / lines
    g = res["pcre2grep"]
    print("%s: %d lines, %d status lines, %d runs; per 1M lines" % (fmt, lines, want, runs))
    for prog, v in res.items():
        cells = []
        for k, what in ((0, "CPU"), (1, "wall")):
            # report's target is wall time; the daemon's second figure is
            # its start and stop, not a time to compare
            if (prog, k) in (("report", 0), ("daemon", 1)):
                continue
            gmin = min(x[k] for x in g)
            mn = min(x[k] for x in v)
            paired = statistics.median(a[k] / b[k] for a, b in zip(v, g))
            cells.append("%s min %.3f s" % (what, mn * per) + (
                "" if prog == "pcre2grep" else
                " (%.2fx, paired median %.3f)" % (mn / gmin, paired)))
        if prog == "daemon":
            cells.append("start and stop %.1f ms more" % (min(x[1] for x in v) * 1e3))
        print("  %-9s %s" % (prog, "; ".join(cells)))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", choices=sorted(FLOOR_RE),
                    help="only this format (default: BENCH_FLOOR_FORMATS)")
    ap.add_argument("--log", help="measure this log (needs --format) instead of gen_log.py's")
    args = ap.parse_args()
    harness.require_binary()
    if shutil.which("pcre2grep") is None:
        print("SKIP: pcre2grep (Debian's pcre2-utils) is not installed")
        return 77
    if args.log and not args.format:
        ap.error("--log needs --format")
    formats = [args.format] if args.format else \
        os.environ.get("BENCH_FLOOR_FORMATS", "postfix,exim,sendmail").split(",")
    for fmt in formats:
        if fmt not in FLOOR_RE:
            ap.error("unknown format %r in BENCH_FLOOR_FORMATS" % fmt)
    runs = int(os.environ.get("BENCH_FLOOR_RUNS", "5"))
    if runs < 1:
        ap.error("BENCH_FLOOR_RUNS must be at least 1")
    if OURS:
        os.sched_setaffinity(0, OURS)
        print("measured programs on CPU %s, the writer and poller on %s"
              % (",".join(map(str, sorted(MEASURED))), ",".join(map(str, sorted(OURS)))))
    lines = int(os.environ.get("BENCH_LINES", "1000000"))
    with tempfile.TemporaryDirectory(prefix="mp-floor-") as tmp:
        for fmt in formats:
            if args.log:
                measure(fmt, args.log, None, runs, tmp)
                continue
            log = os.path.join(tmp, fmt + ".log")
            gen = [sys.executable, os.path.join(HERE, "gen_log.py"), "--format", GEN_FORMAT[fmt],
                   "--lines", str(lines), "--seed", "1"]
            with open(log, "wb") as f:
                subprocess.run(gen, stdout=f, check=True)
            truth = json.loads(subprocess.run(gen + ["--truth"], capture_output=True,
                                              check=True).stdout)
            measure(fmt, log, truth["status_lines"], runs, tmp)
            os.unlink(log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
