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
import fleetcheck  # noqa: E402
import mailgen  # noqa: E402
import promserver  # noqa: E402
from promserver import harness  # noqa: E402

harness.require_binary()
promserver.require_prometheus()
cases = harness.Cases()

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
            failures = fleetcheck.sum_failures(prom, addrs, at)

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
            failures += fleetcheck.totals_failures(prom, daemons)

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
