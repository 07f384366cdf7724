"""The alert path end to end, from the shipped rules: a mail log followed by
the real exporter, scraped by a real Prometheus that evaluates
deploy/prometheus/rules.yml and notifies a real Alertmanager, which posts to
a webhook in this test.

The shipped windows are long (for: 10m over rate(...[10m]) against the same
hour a day and a week ago), so the rule file Prometheus loads is rules.yml
with every duration divided by FACTOR and nothing else changed (scaled.py
checks that byte for byte); scrape and evaluation intervals, the lookback,
the resend delay and Alertmanager's grouping timers are scaled alike. A week
of history on that clock (some 3 hours) is the exporter's own count of a
normal day's traffic, backfilled with promtool before Prometheus starts,
`up` included up to the present. `promtool test rules` (test_rules.py) keeps
checking the full-scale timing.

Three mail hosts, side by side, each its own exporter (the alerts group by
instance, job, mta): a 4xx spike must reach the webhook as
MaillogOutbound4xxSpike with its labels, summary and runbook; a greylisting
burst of the same size must reach nothing; a first blocklisted reply must
reach it as MaillogOutboundBlocklisted. The time from the log write to the
webhook is printed, on the scaled clock and at full scale."""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alerting  # noqa: E402
import mailgen  # noqa: E402
import promserver  # noqa: E402
import scaled  # noqa: E402
from promserver import harness  # noqa: E402

harness.require_binary()
promserver.require_prometheus()
alerting.require_alertmanager()
cases = harness.Cases()

FACTOR = 60
JOB = "maillog_exporter"

# A normal day of one mail host, per second of the scaled clock (a minute
# of a real one): delivered, a mailbox over quota now and then, and
# greylisting by receivers meeting us for the first time (mailgen.OUTCOMES).
NORMAL = [(3.0, mailgen.OUTCOMES[0]), (0.2, mailgen.OUTCOMES[2]), (0.3, mailgen.OUTCOMES[6])]
BURST_RATE = 5.0
# A provider in trouble: Gmail's "421 4.3.0 Temporary System Problem. Try
# again later" (https://support.google.com/a/answer/3726730, also in
# tests/data/reasons/golden.tsv), to every message for it.
SPIKE = ("deferred", "4.3.0", "host {mx}[192.0.2.44] said: 421 4.3.0 Temporary System "
         "Problem. Try again later (in reply to end of DATA command)")
GREYLIST = mailgen.OUTCOMES[6][1:]
BLOCKLIST = mailgen.OUTCOMES[5][1:]
# Prometheus's instant-vector lookback, 5m, scaled.
LOOKBACK = ["--query.lookback-delta=5s"]
# The families whose day- and week-old values the alerts compare against.
BACKFILL = ("maillog_smtp_status_total", "maillog_smtp_reason_total")


class MailHost:
    """One host's log, appended to from a thread: NORMAL traffic all along,
    and from arm() on a burst of one reply at BURST_RATE lines a second.
    Line counts are decided by elapsed time, so the rates hold whatever the
    thread's scheduling."""

    def __init__(self, path, seed, host):
        self.path = path
        self.gen = mailgen.Generator(seed=seed, host=host)
        self.lock = threading.Lock()
        self.f = open(path, "a")
        self.start = time.monotonic()
        self.written = [0] * len(NORMAL)
        self.burst = None
        self.burst_start = None
        self.burst_lines = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _write(self, lines):
        self.f.write("".join(lines))
        self.f.flush()
        return time.monotonic()

    def _run(self):
        while not self.done.is_set():
            # The generator is this host's alone: one thread at a time.
            with self.lock:
                now = time.monotonic()
                out = []
                for i, (rate, (_, status, dsn, reply)) in enumerate(NORMAL):
                    due = int(rate * (now - self.start)) - self.written[i]
                    out.extend(self.gen.delivery(status, dsn, reply) for _ in range(due))
                    self.written[i] += due
                if self.burst is not None:
                    due = int(BURST_RATE * (now - self.burst_start)) + 1 - self.burst_lines
                    status, dsn, reply = self.burst
                    out.extend(self.gen.delivery(status, dsn, reply, domain="gmail.example")
                               for _ in range(due))
                    self.burst_lines += due
                if out:
                    self._write(out)
            self.done.wait(0.1)

    def deliver(self, result, domain):
        """One delivery with this result, written now; returns the time it
        was in the file."""
        with self.lock:
            return self._write([self.gen.delivery(*result, domain=domain)])

    def arm(self, burst):
        """Start the burst now: its first line is written at once; returns
        the time it was in the file."""
        with self.lock:
            self.burst, self.burst_start, self.burst_lines = burst, time.monotonic(), 1
            return self._write([self.gen.delivery(*burst, domain="gmail.example")])

    def disarm(self):
        with self.lock:
            self.burst = None

    def top_up(self, burst, lines):
        """Make the last burst `lines` long (bursts armed side by side end
        a tick apart); returns its length."""
        with self.lock:
            more = lines - self.burst_lines
            if more > 0:
                self._write([self.gen.delivery(*burst, domain="gmail.example")
                             for _ in range(more)])
                self.burst_lines += more
            return self.burst_lines

    def stop(self):
        self.done.set()
        self.thread.join()
        self.f.close()


def normal_day_counts(d):
    """The exporter's own counters for 1000 seconds of NORMAL traffic, read
    with --once: {(family, labels): count}. The history's label sets and
    rates are what the exporter makes of the very lines the hosts write."""
    gen = mailgen.Generator(seed=99, host="mx0")
    path = os.path.join(d, "normal-day.log")
    with open(path, "w") as f:
        for rate, (_, status, dsn, reply) in NORMAL:
            for _ in range(int(rate * 1000)):
                f.write(gen.delivery(status, dsn, reply))
    rc, out, err = harness.run("--once", "--maillog.path=" + path)
    assert rc == 0, err
    counts = {}
    for (name, labels), v in harness.parse_metrics(out).items():
        if name in BACKFILL and v > 0:
            counts[(name, labels)] = v
    assert counts, out
    return counts


def history(addrs, counts, end, seconds):
    """OpenMetrics: `seconds` up to `end`, one sample a second (the
    scaled scrape interval) for each instance: up = 1, and each counter
    growing at its normal-day rate."""
    om = scaled.OpenMetrics()
    for addr in addrs:
        base = {"instance": addr, "job": JOB}
        for k in range(seconds + 1):
            om.add("up", "gauge", "up", base, end - seconds + k, 1)
        for (name, labels), v in sorted(counts.items()):
            rate = v / 1000.0
            lab = dict(base, **dict(sorted(labels)))
            for k in range(seconds + 1):
                om.add(name[:-len("_total")], "counter", name, lab, end - seconds + k,
                       int(rate * k))
    return om.text()


def rules_api(prom):
    """{alert name: rule} as Prometheus loaded them."""
    out = {}
    for g in prom.api("rules")["groups"]:
        for r in g["rules"]:
            if r["type"] == "alerting":
                out[r["name"]] = r
    return out


def template_regex(tmpl, labels):
    """A regex for what a template renders to: each {{ $labels.x }} is
    that label's value, any other action matches anything."""
    out, pos = "^", 0
    for m in re.finditer(r"\{\{(.*?)\}\}", tmpl, re.S):
        out += re.escape(tmpl[pos:m.start()])
        lm = re.fullmatch(r"\s*\$labels\.(\w+)\s*", m.group(1))
        out += re.escape(labels.get(lm.group(1), "")) if lm else ".*?"
        pos = m.end()
    return out + re.escape(tmpl[pos:]) + "$"


def listening(pid):
    """(proto, address) of every listening TCP socket and every UDP socket
    the process holds, from /proc."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    out = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with open("/proc/%d/net/%s" % (pid, proto)) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[9] in inodes and (proto.startswith("udp") or cols[3] == "0A"):
                    hexaddr, hexport = cols[1].split(":")
                    if len(hexaddr) == 8:
                        addr = ".".join(str(int(hexaddr[i:i + 2], 16)) for i in (6, 4, 2, 0))
                    else:
                        addr = "ipv6:" + hexaddr
                    out.add((proto, "%s:%d" % (addr, int(hexport, 16))))
    return out


def test_scaled_rules_differ_only_in_durations():
    with open(promserver.RULES) as f:
        orig = f.read()
    text, changes = scaled.scale_rules(orig, FACTOR)
    assert not scaled.same_but_durations(orig, text, FACTOR)
    kinds = {k for k, _, _ in changes}
    assert kinds == {"range", "offset", "key"}, kinds
    # Every for:, keep_firing_for: and interval: was scaled (none escaped
    # the patterns).
    keys = re.findall(r"^\s*(?:for|keep_firing_for|interval):", orig, re.M)
    assert len([c for c in changes if c[0] == "key"]) == len(keys) > 0, keys
    # The check itself fails on any other change (a character next to the
    # first duration), on a duration a second off, and on a wrong factor.
    (s, e, _), = scaled.spans(text)[:1]
    assert scaled.same_but_durations(orig, text[:s - 1] + "x" + text[s - 1:], FACTOR)
    assert scaled.same_but_durations(
        orig, text[:s] + scaled.fmt_ms(scaled.to_ms(text[s:e]) + 1000) + text[e:], FACTOR)
    assert scaled.same_but_durations(orig, text, FACTOR // 2)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rules.yml")
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = run_promtool("check", "rules", path)
        assert rc == 0, out + err


def run_promtool(*args):
    p = subprocess.run([scaled.PROMTOOL] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_alert_path():
    with open(promserver.RULES) as f:
        orig = f.read()
    rules_text, _ = scaled.scale_rules(orig, FACTOR)
    # As far back as the scaled rules read (the week-ago baseline and its
    # subquery), and a minute more.
    history_s = scaled.reach_ms(rules_text) // 1000 + 60
    with open(os.path.join(promserver.ROOT, "docs", "alerts.md")) as f:
        runbooks = f.read()
    with tempfile.TemporaryDirectory() as d:
        rules = os.path.join(d, "rules.yml")
        with open(rules, "w") as f:
            f.write(rules_text)
        names = ("spike", "grey", "block")
        hosts, daemons, paths = {}, {}, {}
        hook = am = prom = None
        try:
            for n in names:
                paths[n] = os.path.join(d, n + ".log")
                open(paths[n], "w").close()
                daemons[n] = harness.Daemon("--maillog.path=" + paths[n])
            addr = {n: daemons[n].addr for n in names}
            counts = normal_day_counts(d)
            end = int(time.time()) - 1
            data = os.path.join(d, "data")
            scaled.backfill(history(list(addr.values()), counts, end, history_s), data, d)
            # Where the alerts read recording rules, those need the same
            # history: computed from the raw one, as an operator backfills.
            records = scaled.backfill_records(
                rules_text, data, d, end - history_s, end, "1s",
                lambda data: promserver.Prometheus([], rules=None, data=data, flags=LOOKBACK))
            if records:
                print("recording rules backfilled: %s" % ", ".join(records))

            hook = alerting.Webhook()
            am = alerting.Alertmanager(hook.url, group_wait="500ms", group_interval="5s",
                                       repeat_interval="4m")
            assert listening(am.proc.pid) == {("tcp", "127.0.0.1:%d" % am.port)}, \
                listening(am.proc.pid)
            prom = promserver.Prometheus(
                list(addr.values()), rules=rules, data=data,
                config="alerting:\n  alertmanagers:\n    - static_configs:\n"
                       "        - targets: ['127.0.0.1:%d']\n" % am.port,
                # Prometheus's own clocks, scaled like the rules: 1m, 10m.
                flags=LOOKBACK + ["--rules.alert.resend-delay=1s",
                                  "--rules.alert.for-grace-period=10s"])
            loaded = rules_api(prom)
            fors = {}
            for kind, name, text in scaled.rule_items(orig):
                m = re.search(r"^\s*for:\s*(\S+)", text, re.M)
                if kind == "alert" and m:
                    fors[name] = m.group(1)
            for name, dur in fors.items():
                assert abs(loaded[name]["duration"] * FACTOR * 1000 - scaled.to_ms(dur)) < 1, \
                    (name, loaded[name]["duration"], dur)

            # The backfilled history is there: every instance as far back
            # as the rules read.
            _, res = prom.query("count(up offset %ds)" % (history_s - 30))
            assert res and res[0]["value"][1] == "3", res
            for n in names:
                hosts[n] = MailHost(paths[n], 20 + len(hosts), "mx-" + n)
            # Live scrapes for a while (the blocklisted alert wants Prometheus
            # to have scraped the host 10 scaled minutes before).
            prom.wait_query("count_over_time(maillog_lines_read_total{job=%r}[15s]) >= 12" % JOB,
                            timeout=60, pred=lambda r: len(r) == 3)

            t_write = {"spike": hosts["spike"].arm(SPIKE),
                       "grey": hosts["grey"].arm(GREYLIST)}
            t_write["block"] = hosts["block"].deliver(BLOCKLIST, "outlook.example")

            def firing(alertname, n):
                return lambda a: (a["status"] == "firing"
                                  and a["labels"].get("alertname") == alertname
                                  and a["labels"].get("instance") == addr[n])
            got = {}
            for n, alertname in (("spike", "MaillogOutbound4xxSpike"),
                                 ("block", "MaillogOutboundBlocklisted")):
                r = hook.wait(firing(alertname, n), timeout=90)
                assert r, "%s for %s never reached the webhook; Prometheus alerts: %s" % (
                    alertname, n, [(a["state"], a["labels"]) for a in prom.api("alerts")["alerts"]])
                got[n] = (alertname,) + r
            for h in ("spike", "grey"):
                hosts[h].disarm()
            size = max(hosts[h].burst_lines for h in ("spike", "grey"))
            sizes = {"spike": hosts["spike"].top_up(SPIKE, size),
                     "grey": hosts["grey"].top_up(GREYLIST, size)}

            failures = []
            for n, (alertname, t, alert) in got.items():
                rule = loaded[alertname]
                took = t - t_write[n]
                print("measured: %s from the log write to the webhook: %.1f s scaled "
                      "(%.1f min at full scale)" % (alertname, took, took * FACTOR / 60))
                if took < rule["duration"]:
                    failures.append("%s arrived %.1f s after the write, before its for: %s s"
                                    % (alertname, took, rule["duration"]))
                labels = alert["labels"]
                # The labels are those of the alert Prometheus fired.
                _, res = prom.query('last_over_time(ALERTS{alertname="%s",instance="%s",'
                                    'alertstate="firing"}[5m])' % (alertname, addr[n]))
                want = [dict((k, v) for k, v in r["metric"].items()
                             if k not in ("__name__", "alertstate")) for r in res]
                if labels not in want:
                    failures.append("%s labels %s, Prometheus fired %s" % (alertname, labels,
                                                                           want))
                for k, v in rule["labels"].items():
                    if labels.get(k) != v:
                        failures.append("%s: label %s=%r, the rule says %r"
                                        % (alertname, k, labels.get(k), v))
                if labels.get("job") != JOB or labels.get("mta") != "postfix":
                    failures.append("%s labels %s" % (alertname, labels))
                ann = alert["annotations"]
                if not re.match(template_regex(rule["annotations"]["summary"], labels),
                                ann.get("summary", ""), re.S):
                    failures.append("%s summary %r from %r" % (alertname, ann.get("summary"),
                                                               rule["annotations"]["summary"]))
                if addr[n] not in ann.get("summary", ""):
                    failures.append("%s summary names no instance: %r" % (alertname,
                                                                           ann.get("summary")))
                rb = rule["annotations"].get("runbook", "")
                if not rb or ann.get("runbook") != rb:
                    failures.append("%s runbook %r, rule %r" % (alertname, ann.get("runbook"), rb))
                page, _, anchor = rb.partition("#")
                if page != "docs/alerts.md" \
                        or not re.search(r"^### %s$" % re.escape(alertname), runbooks, re.M) \
                        or anchor != alertname.lower():
                    failures.append("%s: runbook %s has no heading in docs/alerts.md" %
                                    (alertname, rb))
                if "{{" in ann.get("description", "") or not ann.get("description"):
                    failures.append("%s description %r" % (alertname, ann.get("description")))
            # The spike's description lists the code it was made of (the
            # annotation's own query, evaluated on the same data).
            if "topk(" in loaded["MaillogOutbound4xxSpike"]["annotations"].get("description", ""):
                desc = got["spike"][2]["annotations"].get("description", "")
                if "421 4.3.0" not in desc:
                    failures.append("4xx spike description lacks 421 4.3.0: %r" % desc)

            # The greylisting burst: as big as the spike, quiet to the end.
            # Wait for the spike's own alert to end (its windows have moved
            # past the burst, so the greylisting one's have too), then look
            # at everything that happened.
            prom.wait_query('absent(ALERTS{alertname="MaillogOutbound4xxSpike",instance="%s"})'
                            % addr["spike"], timeout=90)
            # Both bursts were written whole and counted whole: every spike
            # line as its 421, every greylisting line (and the normal ones)
            # as greylisted.
            counted = {
                "spike": sum(v for (name, lab), v in daemons["spike"].metrics().items()
                             if name == "maillog_smtp_status_total"
                             and dict(lab).get("code") == "421"),
                "grey": sum(v for (name, lab), v in daemons["grey"].metrics().items()
                            if name == "maillog_smtp_reason_total"
                            and dict(lab).get("reason") == "greylisted")}
            if sizes["grey"] != sizes["spike"] or counted["spike"] != sizes["spike"] \
                    or counted["grey"] < sizes["grey"]:
                failures.append("bursts of %s lines, counted %s" % (sizes, counted))
            _, res = prom.query('count_over_time(ALERTS{instance="%s"}[5m])' % addr["grey"])
            if res:
                failures.append("greylisting host had alerts (pending or firing): %s"
                                % [r["metric"] for r in res])
            held = [a for a in am.alerts() if a["labels"].get("instance") == addr["grey"]]
            if held:
                failures.append("Alertmanager holds alerts for the greylisting host: %s"
                                % [a["labels"] for a in held])
            # The spike's resolution has come through: Alertmanager has
            # flushed past the moment the greylisting alert would have.
            r = hook.wait(lambda a: (a["status"] == "resolved"
                                     and a["labels"].get("alertname") == "MaillogOutbound4xxSpike"
                                     and a["labels"].get("instance") == addr["spike"]),
                          timeout=60)
            if not r:
                failures.append("the spike's resolution never reached the webhook")
            grey_hooks = [a for _, a, _ in hook.alerts()
                          if a["labels"].get("instance") == addr["grey"]]
            if grey_hooks:
                failures.append("the greylisting burst reached the webhook: %s"
                                % [(a["status"], a["labels"]) for a in grey_hooks])
            print("bursts: %s lines at %.0f/s; counted as 421 / greylisted: %s"
                  % (sizes, BURST_RATE, counted))
            assert not failures, "\n  " + "\n  ".join(failures)
        finally:
            for h in hosts.values():
                h.stop()
            if prom:
                prom.stop()
            if am:
                am.stop()
            if hook:
                hook.stop()
            for dm in daemons.values():
                dm.stop()


cases.run(test_scaled_rules_differ_only_in_durations)
cases.run(test_alert_path)
cases.finish()
