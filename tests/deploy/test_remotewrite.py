"""Past one Prometheus: a Prometheus in agent mode (--enable-feature=agent,
its WAL in a temp folder) scrapes two exporters and remote-writes
everything to a central Prometheus (--web.enable-remote-write-receiver)
that scrapes nothing itself and runs the shipped recording rules and
alerts. The per-instance rules there return a series for each host, and
the fleet rules equal their sum, as with one Prometheus (test_fleet.py).
Thanos Receive, Mimir and VictoriaMetrics take the same remote_write
(docs/operations.md, "Fleet"); they are not run here. Everything on 127.0.0.1."""
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetcheck  # noqa: E402
import mailgen  # noqa: E402
import promserver  # noqa: E402
from promserver import harness  # noqa: E402

harness.require_binary()
promserver.require_prometheus()
cases = harness.Cases()

SITE = "site-a"


def test_agent_remote_writes_to_central():
    with tempfile.TemporaryDirectory() as d:
        daemons, writers = [], []
        central = agent = None
        try:
            for i, (rate, weights) in enumerate(((40, None), (20, (50, 30, 10, 5, 4, 1)))):
                log = os.path.join(d, "mx%d.log" % (i + 1))
                gen = mailgen.Generator(seed=30 + i, host="mx%d" % (i + 1), weights=weights)
                with open(log, "w") as f:
                    f.write(gen.lines(100))
                daemons.append(harness.Daemon("--maillog.path=" + log,
                                              "--maillog.start=beginning"))
                writers.append(mailgen.Writer(log, gen, rate))
            addrs = [dm.addr for dm in daemons]

            # The central one scrapes nothing: all it holds came by remote-write.
            central = promserver.Prometheus([], flags=["--web.enable-remote-write-receiver"])
            agent = promserver.Prometheus(
                addrs, agent=True, external_labels={"site": SITE},
                config="remote_write:\n  - url: %s\n"
                       % json.dumps(central.url("/api/v1/write")))

            failures = []
            # Agent mode indeed: its WAL is in the temp folder, and it has
            # no query API.
            if not os.path.isdir(os.path.join(agent.dir, "agent", "wal")):
                failures.append("no agent WAL in %s" % agent.dir)
            try:
                urllib.request.urlopen(agent.url("/api/v1/query?query=up"), timeout=5)
                failures.append("the agent answers queries: not in agent mode")
            except urllib.error.HTTPError:
                pass

            def both(res):
                return {r["metric"].get("instance") for r in res} == set(addrs)
            central.wait_query('instance_mta_direction_class:maillog_smtp_status:rate5m'
                               '{class="2xx"} > 0', timeout=60, pred=both)
            # The raw series came through the agent: they carry its
            # external label, with the instance and job it scraped them as.
            _, up = central.query('up{job="maillog_exporter"}')
            seen = {(r["metric"].get("instance"), r["metric"].get("site")) for r in up}
            if seen != {(a, SITE) for a in addrs}:
                failures.append("central up series %s, want %s via %s" % (seen, addrs, SITE))
            # Rules over a few remote-written batches (the agent sends at
            # least every 5 s), at one evaluation a little back so every
            # rule of that group evaluation has been written.
            central.wait_query('count_over_time(instance:maillog_lines_read:rate5m[30s]) >= 15',
                               timeout=60, pred=both)
            at = time.time() - 3
            failures += fleetcheck.sum_failures(central, addrs, at)
            _, inst = central.query('instance_mta_direction_class:maillog_smtp_status:rate5m'
                                    '{direction="outbound",class="4xx"}', at=at)
            vals = {r["metric"]["instance"]: float(r["value"][1]) for r in inst}
            if set(vals) != set(addrs) or min(vals.values()) <= 0:
                failures.append("outbound 4xx per instance on central: %s" % vals)
            # The alerts are loaded there too (and evaluate without error).
            groups = {g["name"]: g for g in central.api("rules")["groups"]}
            for g in groups.values():
                for r in g["rules"]:
                    if r.get("health") not in ("ok", "unknown"):
                        failures.append("rule %s: %s %s" % (r["name"], r.get("health"),
                                                            r.get("lastError")))
            if not any(r["type"] == "alerting" for g in groups.values() for r in g["rules"]):
                failures.append("no alerting rule loaded on central: %s" % sorted(groups))

            # Once the writers stop, central's totals reach the exporters'.
            for w in writers:
                w.stop()
            failures += fleetcheck.totals_failures(central, daemons, timeout=45)
            assert not failures, "\n  " + "\n  ".join(failures)
        finally:
            for w in writers:
                w.stop()
            if agent:
                agent.stop()
            if central:
                central.stop()
            for dm in daemons:
                dm.stop()


cases.run(test_agent_remote_writes_to_central)
cases.finish()
