"""The Grafana dashboard and the recording rules against a real Prometheus
scraping a real exporter fed with a generated Postfix log.

There is no Grafana here, so the dashboard's substance is tested: every
PromQL expression in deploy/grafana/maillog.json (panel targets, template
variables, annotations) is run through Prometheus's HTTP API with its
variables substituted as Grafana would, once with every variable at "All"
and once with one instance selected, and must parse and return data. Every
rule in deploy/prometheus/rules.yml must load and evaluate without error,
and every recording rule must return data.

No log fills the queue panels: the exporter collects the queue every
second (--queue.interval=1) from a fake Postfix showq and a fake Exim
(queuefake.py), so those panels must return data too, and the fakes'
numbers.
"""
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailgen  # noqa: E402
import promserver  # noqa: E402
import queuefake  # noqa: E402
from promserver import harness  # noqa: E402

harness.require_binary()
promserver.require_prometheus()
cases = harness.Cases()

DASHBOARD = os.path.join(promserver.ROOT, "deploy", "grafana", "maillog.json")


def panels(dash):
    for p in dash["panels"]:
        yield p
        yield from p.get("panels", [])


def expressions(dash):
    """(where, expr) for every PromQL expression in the dashboard."""
    out = []
    for p in panels(dash):
        for t in p.get("targets", []):
            out.append(("panel %r target %s" % (p["title"], t["refId"]), t["expr"]))
    for a in dash["annotations"]["list"]:
        if "expr" in a:
            out.append(("annotation %r" % a["name"], a["expr"]))
    return out


VAR_RE = re.compile(r"\$\{?(\w+)\}?")
LABEL_VALUES_RE = re.compile(r"^label_values\((.*),\s*(\w+)\)$")


def substitute(expr, values):
    def rep(m):
        name = m.group(1)
        if name not in values:
            raise AssertionError("unknown variable $%s in %r" % (name, expr))
        return values[name]
    return VAR_RE.sub(rep, expr)


def grafana_regex_escape(s):
    """What Grafana's Prometheus data source does to a single selected
    value of a multi-value variable used in =~: regex metacharacters get a
    backslash, itself escaped in the PromQL string."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", s)


def start_pipeline(d, rate=40):
    log = os.path.join(d, "mail.log")
    gen = mailgen.Generator(seed=7, exim=True)
    with open(log, "w") as f:
        f.write(gen.lines(300))
    showq = queuefake.FakeShowq(os.path.join(d, "showq"))
    daemon = harness.Daemon("--maillog.path=" + log, "--maillog.start=beginning",
                            "--queue.interval=1", "--queue.mta=auto",
                            "--postfix.showq-path=" + showq.path,
                            "--postfix.queue-dir=" + os.path.join(d, "no-postfix-spool"),
                            *queuefake.fake_exim(d))
    writer = mailgen.Writer(log, gen, rate)
    return daemon, writer, showq


def test_dashboard_and_rules_against_prometheus():
    with open(DASHBOARD) as f:
        dash = json.load(f)
    with tempfile.TemporaryDirectory() as d:
        daemon, writer, showq = start_pipeline(d)
        prom = None
        try:
            prom = promserver.Prometheus([daemon.addr])
            # Two scrapes and a rule evaluation, then enough samples for
            # $__rate_interval windows.
            prom.wait_query('instance_mta_direction_class:maillog_smtp_status:rate5m'
                            '{class="2xx"} > 0', timeout=40)
            time.sleep(6)

            failures = []
            base = {"__rate_interval": "10s", "__interval": "5s", "__range": "1m",
                    "job": "maillog_exporter", "mta": "postfix", "stage": "total",
                    "datasource": "prometheus"}
            selections = [
                ("all instances", dict(base, instance=".+")),
                ("one instance", dict(base, instance=grafana_regex_escape(daemon.addr))),
            ]

            # Template variables: label_values(selector, label) is a series
            # query; each must offer the value the panels are queried with.
            var_values = {}
            for v in dash["templating"]["list"]:
                if v["type"] != "query":
                    continue
                m = LABEL_VALUES_RE.match(v["definition"])
                assert m, "variable %s: not label_values(): %r" % (v["name"], v["definition"])
                sel = substitute(m.group(1), dict(base, instance=".+"))
                series = prom.api("series", **{"match[]": sel})
                var_values[v["name"]] = {s.get(m.group(2)) for s in series} - {None}
                if not var_values[v["name"]]:
                    failures.append("variable $%s: %s offers no value" % (v["name"], sel))
            for name, want in (("instance", daemon.addr), ("mta", "postfix"),
                               ("stage", "total"), ("job", "maillog_exporter")):
                if want not in var_values.get(name, ()):
                    failures.append("variable $%s offers %s, not %r"
                                    % (name, sorted(var_values.get(name, ())), want))

            exprs = expressions(dash)
            assert len(exprs) >= 20, len(exprs)
            for label, values in selections:
                for where, expr in exprs:
                    q = substitute(expr, values)
                    try:
                        _, res = prom.query(q)
                    except AssertionError as e:
                        failures.append("%s (%s): does not run: %s" % (where, label, e))
                        continue
                    if not res and not where.startswith("annotation"):
                        failures.append("%s (%s): no data for %s" % (where, label, q))

            # The panels that carry meaning must show non-zero numbers.
            sel = selections[0][1]
            for where, expr in exprs:
                if "Replies per second" in where or "Lines read" in where:
                    _, res = prom.query(substitute(expr, sel))
                    if not any(float(r["value"][1]) > 0 for r in res):
                        failures.append("%s: all zero: %s" % (where, res))
            # The queue panels show what the fakes hold.
            want = {("Queue size (Postfix)", "A"): {"deferred": 3, "active": 1, "hold": 1,
                                                   "incoming": 0, "maildrop": 0},
                    ("Exim queue and frozen messages", "A"): {"": queuefake.EXIM_QUEUED},
                    ("Exim queue and frozen messages", "B"): {"": 1}}
            for p in panels(dash):
                for t in p.get("targets", []):
                    if (p["title"], t["refId"]) not in want:
                        continue
                    _, res = prom.query(substitute(t["expr"], sel))
                    got = {r["metric"].get("queue", ""): float(r["value"][1]) for r in res}
                    if got != want.pop((p["title"], t["refId"])):
                        failures.append("panel %r target %s: %s" % (p["title"], t["refId"], got))
            if want:
                failures.append("no queue panel target %s" % sorted(want))
            # The code tables carry the meaning of each code they list.
            for where, expr in exprs:
                if "Top reply codes" in where or "Top enhanced" in where:
                    _, res = prom.query(substitute(expr, sel))
                    described = [r["metric"] for r in res if r["metric"].get("description")]
                    if not described:
                        failures.append("%s: no row has a description: %s" % (where, res))

            # Every rule loads and evaluates cleanly; recording rules have data.
            groups = prom.api("rules")["groups"]
            names = [g["name"] for g in groups]
            assert sorted(names) == ["maillog.alerts", "maillog.recording"], names
            nrec = 0
            for g in groups:
                for r in g["rules"]:
                    if r.get("health") != "ok":
                        failures.append("rule %s: health %s: %s" % (
                            r["name"], r.get("health"), r.get("lastError")))
                    if r["type"] == "recording":
                        nrec += 1
                        _, res = prom.query(r["name"])
                        if not res:
                            failures.append("recording rule %s: no data" % r["name"])
                    else:
                        for a in ("summary", "description", "runbook"):
                            if a not in r.get("annotations", {}):
                                failures.append("alert %s: no %s" % (r["name"], a))
            assert nrec >= 15, nrec
            # A healthy, busy exporter pages nobody.
            firing = [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing"]
            if firing:
                failures.append("alerts firing on a healthy exporter: %s" % firing)

            assert not failures, "\n  " + "\n  ".join(failures)
        finally:
            writer.stop()
            if prom:
                prom.stop()
            daemon.stop()
            showq.stop()


def test_dashboard_shape():
    """What Grafana 10 needs to import it: a datasource variable every
    panel uses, instance and mta variables, unique panel ids, and the
    panels the issue asks for."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    names = {v["name"]: v for v in dash["templating"]["list"]}
    assert names["datasource"]["type"] == "datasource", names["datasource"]
    assert names["datasource"]["query"] == "prometheus"
    for n in ("instance", "mta"):
        assert names[n]["type"] == "query" and names[n]["multi"] and names[n]["includeAll"], n
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), ids
    for p in panels(dash):
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", (p["title"], t)
    titles = {p["title"] for p in panels(dash)}
    for t in ("Sessions and queue", "Queue size (Postfix)", "Exim queue and frozen messages",
              "Age of queued messages (Postfix)", "SMTP connections per second",
              "Lost connections by stage", "SMTP AUTH failures by method",
              "TLS share by protocol", "TLS share by trust, and failed handshakes",
              "postscreen passes and test failures", "postscreen DNSBL rank",
              "Exim messages by flag"):
        assert t in titles, t
    kinds = {p["type"] for p in panels(dash)}
    assert {"timeseries", "table", "heatmap", "bargauge", "stat"} <= kinds, kinds
    stacked = [p for p in panels(dash) if p["title"] == "Replies per second by class"]
    assert stacked[0]["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    heat = [p for p in panels(dash) if p["type"] == "heatmap"][0]
    assert heat["targets"][0]["format"] == "heatmap"
    assert "maillog_delivery_delay_seconds_bucket" in heat["targets"][0]["expr"]
    assert dash["schemaVersion"] >= 36, dash["schemaVersion"]


cases.run(test_dashboard_shape)
cases.run(test_dashboard_and_rules_against_prometheus)
cases.finish()
