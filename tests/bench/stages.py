#!/usr/bin/env python3
"""Instructions per line for each stage of the per-line path (meson benchmark
'stages'), and the same count for `pcre2grep -c` with one delivery regex.

The machine this was written on exposes no hardware counters, so the count
comes from callgrind: `maillog_exporter --once` runs under valgrind over a
log, and each function's inclusive total (its own instructions plus its
callees') is mapped to a stage:

  header      mp_syslog_parse: the syslog (or Exim mainlog) header
  dispatch    mp_registry_parse minus the header and the parsers: clearing
              the event, asking each parser whether the tag is its own
  fields      the MTA parser's parse callback (postfix_parse, exim_parse,
              sendmail_parse, opensmtpd_parse, mp_custom_parse): every
              field of the line, its patterns included
  reasons     reason_classify: failed statuses only
  recording   ingest_line minus the above: the counters, the operational
              families, the domain and host labels
  input       once_read minus ingest_line: read(2), finding line ends
  start+end   everything outside once_read: option parsing, compiling the
              patterns, printing the exposition (not per line; shown so
              the total adds up)

Per-line figures divide by the number of lines in the log. A link-time-
optimised build (build-aux/pgo-build.sh) inlines these functions into each
other, so for it only the total is printed. Instructions are
not time (a cache miss costs many, a predicted branch little), but they are
repeatable to the instruction between runs on a noisy machine, so a
regression shows at the stage where it happens.

If pcre2grep is installed, it runs under callgrind too (`pcre2grep -c`, JIT,
its default), and both run natively a few times for CPU seconds and wall
time on the page-cached file (medians). Nothing is asserted: it fails only
if a tool fails.

  MAILLOG_EXPORTER=build/daemon/maillog_exporter tests/bench/stages.py
  tests/bench/stages.py --log exim.log --regex "$(cd tests/bench &&
      python3 -c 'import floor; print(floor.FLOOR_RE["exim"])')"

Environment: BENCH_STAGE_LINES (default 200000) sizes the generated log;
BENCH_STAGE_RUNS (default 5) the native runs.
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# The delivery regexes of the single-regex floor, one per format (floor.py).
from floor import FLOOR_RE  # noqa: E402

PARSE_FNS = ("postfix_parse", "exim_parse", "sendmail_parse", "opensmtpd_parse",
             "mp_custom_parse")
STAGES = ("header", "dispatch", "fields", "reasons", "recording", "input")
# Functions whose inclusive totals bound the stages (reason_classify and
# the parsers may legitimately not run on a given log).
STAGE_FNS = ("once_read", "ingest_line", "mp_registry_parse", "mp_syslog_parse")

# "  123,456 (12.34%)  file:function [object]" in callgrind_annotate's output
ROW = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*?)\s+\[(.*)\]\s*$")


def callgrind(cmd, out):
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


def inclusive(out):
    """Function name -> inclusive instructions, and the program total."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                          capture_output=True, text=True, check=True).stdout
    fns, total = {}, 0
    for line in text.splitlines():
        if line.strip().endswith("PROGRAM TOTALS"):
            total = int(line.split()[0].replace(",", ""))
            continue
        m = ROW.match(line)
        if not m:
            continue
        name = m.group(2).rsplit(":", 1)[-1]
        # The same function may show once per file it was inlined from;
        # the largest is the outer one.
        fns[name] = max(fns.get(name, 0), int(m.group(1).replace(",", "")))
    return fns, total


def stages(fns, total):
    g = lambda n: fns.get(n, 0)
    parse = sum(g(n) for n in PARSE_FNS)
    return {
        "header": g("mp_syslog_parse"),
        "dispatch": g("mp_registry_parse") - g("mp_syslog_parse") - parse,
        "fields": parse,
        "reasons": g("reason_classify"),
        "recording": g("ingest_line") - g("mp_registry_parse") - g("reason_classify"),
        "input": g("once_read") - g("ingest_line"),
        "start+end": total - g("once_read"),
        "total": total,
    }


def native(cmd, runs):
    """Median CPU seconds (user + system) and wall seconds of cmd."""
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall.append(time.monotonic() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", help="a log to measure (default: gen_log.py's Postfix log)")
    ap.add_argument("--regex", default=FLOOR_RE["postfix"],
                    help="pcre2grep's delivery regex (floor.py's FLOOR_RE has one per format)")
    ap.add_argument("--binary", default=os.environ.get("MAILLOG_EXPORTER", ""))
    ap.add_argument("--format", default=None, help="--maillog.format for the exporter")
    args = ap.parse_args()
    if not args.binary or not os.access(args.binary, os.X_OK):
        print("SKIP: MAILLOG_EXPORTER does not name the built binary")
        return 77
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        print("SKIP: valgrind (callgrind) is not installed")
        return 77
    runs = int(os.environ.get("BENCH_STAGE_RUNS", "5"))
    with tempfile.TemporaryDirectory(prefix="mp-stages-") as tmp:
        log = args.log
        if log is None:
            log = os.path.join(tmp, "mail.log")
            n = int(os.environ.get("BENCH_STAGE_LINES", "200000"))
            with open(log, "wb") as f:
                subprocess.run([sys.executable, os.path.join(HERE, "gen_log.py"),
                                "--lines", str(n), "--seed", "1"], stdout=f, check=True)
        with open(log, "rb") as f:
            lines = sum(1 for _ in f)
        cmd = [args.binary, "--once", "--maillog.path=" + log]
        if args.format:
            cmd.append("--maillog.format=" + args.format)
        out = os.path.join(tmp, "cg.exporter")
        callgrind(cmd, out)
        fns, total = inclusive(out)
        st = stages(fns, total)
        print("%s: %d lines" % (log if args.log else "gen_log.py --seed 1", lines))
        # A link-time-optimised build (build-aux/pgo-build.sh) inlines the
        # stage functions into each other: their totals then say nothing.
        gone = [n for n in STAGE_FNS if n not in fns]
        if gone or any(st[k] < 0 for k in STAGES):
            print("stages: not measurable in this build (%s inlined away, as -Db_lto does); "
                  "only the total is" % (", ".join(gone) or "a stage function"))
            print("%-12s %14d %12.1f" % ("total", total, total / lines))
        else:
            print("%-12s %14s %12s" % ("stage", "instructions", "per line"))
            for k in STAGES + ("start+end", "total"):
                print("%-12s %14d %12.1f" % (k, st[k], st[k] / lines))
            per_line = (st["total"] - st["start+end"]) / lines
            print("%-12s %14s %12.1f" % ("per-line sum", "", per_line))

        grep = shutil.which("pcre2grep")
        if grep is None:
            print("pcre2grep not installed: no single-regex floor")
            return 0
        gcmd = [grep, "-c", args.regex, log]
        matched = subprocess.run(gcmd, capture_output=True, text=True).stdout.strip()
        gout = os.path.join(tmp, "cg.pcre2grep")
        callgrind(gcmd, gout)
        _, gtotal = inclusive(gout)
        print("pcre2grep -c (JIT): %s lines match; %d instructions, %.1f per line"
              % (matched, gtotal, gtotal / lines))
        print("ratio (exporter total / pcre2grep total): %.2f" % (st["total"] / gtotal))
        ecpu, ewall = native(cmd, runs)
        native(gcmd, 1)  # the file is in the page cache for both
        gcpu, gwall = native(gcmd, runs)
        print("native, page-cached, median of %d: --once %.3f CPU s %.3f wall s; "
              "pcre2grep %.3f CPU s %.3f wall s" % (runs, ecpu, ewall, gcpu, gwall))
        print("per 1M lines: --once %.3f CPU s, pcre2grep %.3f CPU s; ratio CPU %.2f, wall %.2f"
              % (ecpu * 1e6 / lines, gcpu * 1e6 / lines,
                 ecpu / gcpu if gcpu else float("nan"), ewall / gwall if gwall else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
