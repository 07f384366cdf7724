"""What a Prometheus holding several exporters must answer, for the fleet
tests (one Prometheus scraping two exporters, and an agent remote-writing
them to a central one): the fleet-wide recording rules equal the sum of
the per-instance rules at the same evaluation, carry no instance label, and
count every host."""
import time

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


def sum_failures(prom, addrs, at):
    """For every pair, at time `at`: the instance rule has a series for
    each of addrs, and the fleet rule equals their sum label set by label
    set. Returns what is wrong, as text lines."""
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
    return failures


def exporters_class_totals(daemons):
    """{class: maillog_smtp_status_total summed over the exporters}, read
    from the exporters themselves."""
    want = {}
    for dm in daemons:
        for (name, labels), v in dm.metrics().items():
            if name == "maillog_smtp_status_total":
                c = dict(labels)["class"]
                want[c] = want.get(c, 0) + v
    return want


def totals_failures(prom, daemons, timeout=30):
    """Once writing has stopped: poll until what the Prometheus holds,
    maillog_smtp_status_total summed by class over the job, equals the
    exporters' own sum. [] when it does before the deadline, else why not."""
    deadline = time.monotonic() + timeout
    while True:
        want = exporters_class_totals(daemons)
        _, res = prom.query('sum by (class) (maillog_smtp_status_total'
                            '{job="maillog_exporter"})')
        got = {r["metric"]["class"]: float(r["value"][1]) for r in res}
        if got == want:
            return []
        if time.monotonic() > deadline:
            return ["Prometheus holds %s, the exporters serve %s" % (got, want)]
        time.sleep(0.5)
