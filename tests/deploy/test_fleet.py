"""The fleet: two exporters (two mail hosts with different traffic) and one
Prometheus. The fleet-wide recording rules must equal the sum of the
per-instance rules at the same evaluation, carry no instance label, and
count both hosts; and what Prometheus holds must equal what the two
exporters serve."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailgen  # noqa: E402
import promserver  # noqa: E402
from promserver import harness  # noqa: E402

harness.require_binary()
promserver.require_prometheus()
cases = harness.Cases()

# (instance rule, fleet rule): the fleet rule is sum without (instance).
PAIRS = [
    ("instance_mta_direction_class:maillog_smtp_status:rate5m",
     "mta_direction_class:maillog_smtp_status:rate5m"),
    ("instance_mta_direction_code:maillog_smtp_status:rate5m",
     "mta_direction_code:maillog_smtp_status:rate5m"),
    ("instance:maillog_lines_read:rate5m", "job:maillog_lines_read:rate5m"),
    ("instance_mta_outcome:maillog_outcomes:rate5m", "mta_outcome:maillog_outcomes:rate5m"),
    ("instance_mta_domain_class:maillog_domain_status_outbound:rate15m",
     "mta_domain_class:maillog_domain_status_outbound:rate15m"),
    ("instance_mta_stage_le:maillog_delivery_delay_seconds_bucket:rate5m",
     "mta_stage_le:maillog_delivery_delay_seconds_bucket:rate5m"),
]


def key(metric, drop=("instance",)):
    return tuple(sorted((k, v) for k, v in metric.items() if k not in drop))


def test_fleet_rules_sum_two_exporters():
    with tempfile.TemporaryDirectory() as d:
        logs, daemons, writers = [], [], []
        prom = None
        try:
            # mx1 busy and healthy; mx2 half as busy and deferred far more.
            for i, (rate, weights) in enumerate(((40, None), (20, (50, 30, 10, 5, 4, 1)))):
                log = os.path.join(d, "mx%d.log" % (i + 1))
                gen = mailgen.Generator(seed=10 + i, host="mx%d" % (i + 1), weights=weights)
                with open(log, "w") as f:
                    f.write(gen.lines(100))
                logs.append(log)
                daemons.append(harness.Daemon("--maillog.path=" + log,
                                              "--maillog.start=beginning"))
                writers.append(mailgen.Writer(log, gen, rate))
            addrs = [dm.addr for dm in daemons]
            prom = promserver.Prometheus(addrs)

            def both(res):
                return {r["metric"].get("instance") for r in res} == set(addrs)
            prom.wait_query('instance_mta_direction_class:maillog_smtp_status:rate5m'
                            '{class="2xx"} > 0', timeout=40, pred=both)
            time.sleep(5)

            # One timestamp a few evaluations back, so every rule of that
            # group evaluation has been written.
            at = time.time() - 3
            failures = []
            for inst_rule, fleet_rule in PAIRS:
                _, inst = prom.query(inst_rule, at=at)
                _, fleet = prom.query(fleet_rule, at=at)
                if not inst or not fleet:
                    failures.append("%s / %s: no data" % (inst_rule, fleet_rule))
                    continue
                if {r["metric"].get("instance") for r in inst} != set(addrs):
                    failures.append("%s: instances %s" % (
                        inst_rule, {r["metric"].get("instance") for r in inst}))
                want = {}
                for r in inst:
                    k = key(r["metric"], drop=("instance", "__name__"))
                    want[k] = want.get(k, 0.0) + float(r["value"][1])
                got = {}
                for r in fleet:
                    if "instance" in r["metric"]:
                        failures.append("%s keeps instance: %s" % (fleet_rule, r["metric"]))
                    got[key(r["metric"], drop=("__name__",))] = float(r["value"][1])
                if set(got) != set(want):
                    failures.append("%s: label sets %s, want %s" % (fleet_rule, sorted(got),
                                                                   sorted(want)))
                for k, v in want.items():
                    g = got.get(k)
                    if g is None or abs(g - v) > 1e-9 * max(1.0, abs(v)):
                        failures.append("%s%s = %s, sum of instances %s"
                                        % (fleet_rule, dict(k), g, v))

            # Both hosts contribute: the fleet's outbound 2xx and 4xx rates
            # exceed each host's, and mx2's 4xx share is the larger one.
            _, inst = prom.query('instance_mta_direction_class:maillog_smtp_status:ratio5m'
                                 '{direction="outbound",class="4xx"}', at=at)
            share = {r["metric"]["instance"]: float(r["value"][1]) for r in inst}
            if not share.get(addrs[1], 0) > share.get(addrs[0], 1):
                failures.append("4xx share per instance %s: mx2 should defer more" % share)
            for cls in ("2xx", "4xx"):
                _, inst = prom.query('instance_mta_direction_class:maillog_smtp_status:rate5m'
                                     '{direction="outbound",class="%s"}' % cls, at=at)
                _, fleet = prom.query('mta_direction_class:maillog_smtp_status:rate5m'
                                      '{direction="outbound",class="%s"}' % cls, at=at)
                vals = [float(r["value"][1]) for r in inst]
                if not (len(vals) == 2 and min(vals) > 0 and fleet
                        and float(fleet[0]["value"][1]) > max(vals)):
                    failures.append("outbound %s: instances %s, fleet %s" % (cls, vals, fleet))

            # Stop writing; once both exporters' totals are scraped again,
            # Prometheus's fleet-wide sum equals the two exporters' sum.
            for w in writers:
                w.stop()
            time.sleep(2.5)
            want = {}
            for dm in daemons:
                for (name, labels), v in dm.metrics().items():
                    if name == "maillog_smtp_status_total":
                        c = dict(labels)["class"]
                        want[c] = want.get(c, 0) + v
            _, res = prom.query('sum by (class) (maillog_smtp_status_total'
                                '{job="maillog_exporter"})')
            got = {r["metric"]["class"]: float(r["value"][1]) for r in res}
            if got != want:
                failures.append("Prometheus holds %s, the exporters serve %s" % (got, want))

            assert not failures, "\n  " + "\n  ".join(failures)
        finally:
            for w in writers:
                w.stop()
            if prom:
                prom.stop()
            for dm in daemons:
                dm.stop()


cases.run(test_fleet_rules_sum_two_exporters)
cases.finish()
