"""The shipped rules on a faster clock, for tests that must see alerts whose
windows are hours and days long.

scale_rules() divides every duration of deploy/prometheus/rules.yml (range
selectors and subqueries, offset, for, keep_firing_for, a group's interval)
by one factor and changes nothing else; same_but_durations() proves that,
by putting one placeholder in place of every duration of both texts and
comparing the results byte for byte. History is written as OpenMetrics on
the same scaled clock and turned into TSDB blocks with `promtool tsdb
create-blocks-from openmetrics`, as an operator backfills."""
import os
import re
import shutil
import subprocess

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# A PromQL/Prometheus duration: units in this order, e.g. 6d23h30m, 500ms.
DUR = r"(?:\d+(?:ms|[ywdhms]))+"
UNIT_MS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000,
           "w": 7 * 86400000, "y": 365 * 86400000}
# Where a duration stands: [range] and [range:step] (and [range:]),
# "offset D", and the YAML keys whose value is a duration.
PATTERNS = [
    ("range", re.compile(r"\[(%s)(?::(%s)?)?\]" % (DUR, DUR))),
    ("offset", re.compile(r"\boffset\s+-?(%s)(?![\w])" % DUR)),
    ("key", re.compile(r"^\s*(?:-\s+)?(?:for|keep_firing_for|interval):\s*[\"']?(%s)[\"']?\s*$"
                       % DUR, re.M)),
]


def to_ms(d):
    total = 0
    for n, unit in re.findall(r"(\d+)(ms|[ywdhms])", d):
        total += int(n) * UNIT_MS[unit]
    return total


def fmt_ms(ms):
    """The shortest Prometheus spelling of ms (d, h, m, s, ms; no w or y,
    whose lengths are conventions)."""
    if ms == 0:
        return "0s"
    out = ""
    for unit in ("d", "h", "m", "s", "ms"):
        n, ms = divmod(ms, UNIT_MS[unit])
        if n:
            out += "%d%s" % (n, unit)
    return out


def spans(text):
    """(start, end, kind) of every duration in text, in order."""
    spans = []
    for kind, rx in PATTERNS:
        for m in rx.finditer(text):
            for g in range(1, (rx.groups or 0) + 1):
                if m.group(g) is not None:
                    spans.append((m.start(g), m.end(g), kind))
    spans.sort()
    return spans


def reach_ms(text):
    """How far back the rules of text can read: the longest offset plus the
    longest range or subquery, in milliseconds (an upper bound)."""
    longest = {"range": 0, "offset": 0}
    for start, end, kind in spans(text):
        if kind in longest:
            longest[kind] = max(longest[kind], to_ms(text[start:end]))
    return longest["range"] + longest["offset"]


def scale_rules(text, factor):
    """(scaled text, [(kind, original, scaled)]). Raises if a duration does
    not divide into whole milliseconds."""
    out, last, changes = [], 0, []
    for start, end, kind in spans(text):
        orig = text[start:end]
        ms = to_ms(orig)
        if ms % factor:
            raise ValueError("%s does not divide by %d" % (orig, factor))
        new = fmt_ms(ms // factor)
        out.append(text[last:start])
        out.append(new)
        last = end
        changes.append((kind, orig, new))
    out.append(text[last:])
    return "".join(out), changes


def placeholder(text):
    out, last = [], 0
    for start, end, _ in spans(text):
        out.append(text[last:start])
        out.append("\x00DURATION\x00")
        last = end
    out.append(text[last:])
    return "".join(out)


def same_but_durations(orig, scaled, factor):
    """Empty list when scaled is orig with every duration divided by
    factor and nothing else changed; else what differs."""
    problems = []
    a, b = placeholder(orig), placeholder(scaled)
    if a != b:
        for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())):
            if x != y:
                problems.append("line %d differs beyond durations:\n    %s\n    %s"
                                % (i + 1, x, y))
                break
        else:
            problems.append("the texts differ in length beyond durations")
    da = [orig[s:e] for s, e, _ in spans(orig)]
    db = [scaled[s:e] for s, e, _ in spans(scaled)]
    if len(da) != len(db):
        problems.append("%d durations, scaled %d" % (len(da), len(db)))
    for x, y in zip(da, db):
        if to_ms(x) != to_ms(y) * factor:
            problems.append("%s became %s, not %s / %d" % (x, y, x, factor))
    return problems


class OpenMetrics:
    """Samples for backfilling, grouped by family as OpenMetrics requires,
    each series in time order; text() ends with # EOF."""

    def __init__(self):
        self.families = {}   # family -> (type, {series text: [(t, v)]})

    def add(self, family, mtype, name, labels, t, v):
        _, series = self.families.setdefault(family, (mtype, {}))
        key = "%s{%s}" % (name, ",".join('%s="%s"' % (k, labels[k]) for k in labels))
        series.setdefault(key, []).append((t, v))

    def text(self):
        out = []
        for family, (mtype, series) in self.families.items():
            out.append("# TYPE %s %s\n" % (family, mtype))
            for key, samples in series.items():
                samples.sort()
                out.extend("%s %s %.3f\n" % (key, repr(float(v)) if v != int(v) else int(v), t)
                           for t, v in samples)
        out.append("# EOF\n")
        return "".join(out)


def backfill(om_text, data_dir, workdir):
    """Write blocks from OpenMetrics text into data_dir (a Prometheus
    --storage.tsdb.path that is not running yet). Returns promtool's
    output; raises with it on failure.

    promtool 2.42 cuts the history into blocks at 2-hour boundaries. A
    Prometheus starting on them takes the newest block's end as the
    lowest time its head accepts (out-of-order ingestion is off), so the
    history must end before Prometheus starts: its first scrape is then
    newer and nothing is refused."""
    path = os.path.join(workdir, "history.om")
    with open(path, "w") as f:
        f.write(om_text)
    os.makedirs(data_dir, exist_ok=True)
    p = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", path, data_dir],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("promtool create-blocks-from openmetrics: %s%s"
                             % (p.stdout, p.stderr))
    return p.stdout


ITEM = re.compile(r"^[ \t]*- (record|alert|name): *(\S+)[ \t]*$", re.M)


def rule_items(text):
    """[(kind, name, text)] of every rule of a rule file, kind "record" or
    "alert", text the rule's own lines as the file indents them."""
    marks = list(ITEM.finditer(text))
    out = []
    for i, m in enumerate(marks):
        if m.group(1) == "name":
            continue
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out.append((m.group(1), m.group(2), text[m.start():end]))
    return out


def _mentions(text, name):
    return re.search(r"(?<![\w:])%s(?![\w:])" % re.escape(name), text) is not None


def records_alerts_read(text):
    """The recording rules the alerts read, with the recording rules those
    read in turn, as layers: each layer reads only raw series and earlier
    layers. [] when the alerts read raw series only."""
    items = rule_items(text)
    records = {n: t for k, n, t in items if k == "record"}
    want = {n for n in records for k, _, t in items if k == "alert" and _mentions(t, n)}
    todo = list(want)
    while todo:
        n = todo.pop()
        for m in records:
            if m not in want and m != n and _mentions(records[n], m):
                want.add(m)
                todo.append(m)
    layers, done = [], set()
    while want - done:
        layer = sorted(n for n in want - done
                       if not any(_mentions(records[n], m) for m in want - done - {n}))
        if not layer:
            raise ValueError("recording rules read each other in a cycle: %s"
                             % sorted(want - done))
        layers.append([(n, records[n]) for n in layer])
        done.update(layer)
    return layers


def backfill_records(text, data_dir, workdir, start, end, eval_interval, prometheus):
    """History for the recording rules the alerts read (records_alerts_read),
    from the raw history already in data_dir, as an operator backfills new
    rules: for each layer, a Prometheus serving data_dir (prometheus(data)
    returns one, stopped by the caller's stop()) and `promtool tsdb
    create-blocks-from rules` against it, the blocks moved into data_dir.
    Returns the record names backfilled."""
    names = []
    for i, layer in enumerate(records_alerts_read(text)):
        path = os.path.join(workdir, "records-%d.yml" % i)
        with open(path, "w") as f:
            f.write("groups:\n  - name: backfill\n    rules:\n")
            f.write("".join(t if t.endswith("\n") else t + "\n" for _, t in layer))
        out = os.path.join(workdir, "records-%d" % i)
        prom = prometheus(data_dir)
        try:
            p = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "rules",
                                "--url=" + prom.url(""), "--start=%d" % start,
                                "--end=%d" % end, "--eval-interval=%s" % eval_interval,
                                "--output-dir=" + out, path],
                               capture_output=True, text=True, timeout=300)
        finally:
            prom.stop()
        if p.returncode != 0 or not os.path.isdir(out):
            raise AssertionError("promtool create-blocks-from rules: %s%s"
                                 % (p.stdout, p.stderr))
        for block in os.listdir(out):
            shutil.move(os.path.join(out, block), os.path.join(data_dir, block))
        names += [n for n, _ in layer]
    return names
