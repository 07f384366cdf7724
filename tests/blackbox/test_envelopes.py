"""Container envelopes (--maillog.envelope): real MTA output
(examples/mail.log, plus one line over 16 KiB) wrapped as containerd (CRI)
and Docker's json-file driver write it (tests/data/envelopes/
make_envelopes.py: cut lines, escapes, header-less lines, stderr chatter).

- --once over each envelope counts exactly what --once counts over the
  plain lines, in every family taken from the log;
- forcing the wrong envelope, or none, does not (so the first check can
  fail), and counts every record as malformed;
- a header-less line's time is the record's;
- the daemon follows a CRI file and a Docker file through a rename
  rotation as kubelet (0.log -> 0.log.<timestamp>, gzipped later) and
  Docker (<id>-json.log -> <id>-json.log.1) do it, joins a line whose
  parts arrive in separate writes, and ends with the counts of --once over
  the plain lines.
"""
import calendar
import gzip
import os
import sys
import tempfile
import time

import harness
from harness import parse_metrics, run, value

sys.path.insert(0, os.path.join(os.environ.get("TESTS_DIR", os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "data", "envelopes"))
import make_envelopes  # noqa: E402

harness.require_binary()
cases = harness.Cases()

TESTS_DIR = os.environ.get("TESTS_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLE = os.path.join(os.path.dirname(TESTS_DIR), "examples", "mail.log")

# Families that describe the input or the clock, not what the log says.
SELF = ("maillog_lines_read_total", "maillog_bytes_read_total", "maillog_overlong_lines_total",
        "maillog_rotations_total", "maillog_truncations_total", "maillog_open_errors_total",
        "maillog_dropped_fragments_total", "maillog_source_state",
        "maillog_last_line_read_timestamp_seconds", "maillog_lag_seconds",
        "maillog_last_line_timestamp_seconds", "maillog_exporter_scrape_duration_seconds",
        "maillog_inotify_overflows_total", "maillog_exporter_build_info")


def mail_lines():
    lines = [l for l in open(EXAMPLE, encoding="utf-8").read().splitlines() if l]
    # One line over 16 KiB, so the runtimes' own cut (16384 bytes) is
    # exercised: a real Postfix bounce from the example, its remote reply
    # lengthened as a verbose server's would be.
    bounce = next(l for l in lines if "status=bounced" in l and "postfix/smtp[" in l)
    assert bounce.endswith(")"), bounce
    lines.append(bounce[:-1] + " " + "x" * 20000 + ")")
    return lines


def counts(metrics):
    """The samples taken from the log: everything but SELF, envelopes, process_*."""
    return {k: v for k, v in metrics.items()
            if k[0] not in SELF and not k[0].startswith("maillog_envelope_")
            and not k[0].startswith("process_") and k[0].startswith("maillog_")}


def once(path, *args):
    rc, out, err = run("--once", "--maillog.path=" + path, *args)
    assert rc == 0, (rc, err)
    return parse_metrics(out)


def write(path, text, mode="w"):
    with open(path, mode, encoding="utf-8", newline="") as f:
        f.write(text)


def status_total(m):
    return sum(v for (n, _), v in m.items() if n == "maillog_smtp_status_total")


LINES = mail_lines()
TMP = tempfile.mkdtemp(prefix="envelopes.")
PLAIN = os.path.join(TMP, "plain.log")
write(PLAIN, "\n".join(LINES) + "\n")
PLAIN_M = once(PLAIN)
EXPECTED_LINES = len(make_envelopes.expected(LINES))


def test_once_equals_plain():
    want = counts(PLAIN_M)
    assert status_total(PLAIN_M) > 100, status_total(PLAIN_M)
    assert not any(n.startswith("maillog_envelope_") for n, _ in PLAIN_M), \
        "a plain log shows envelope families"
    for fmt, text in (("cri", make_envelopes.cri(LINES)), ("docker", make_envelopes.docker(LINES))):
        path = os.path.join(TMP, "once-%s.log" % fmt)
        write(path, text)
        for flag in ([], ["--maillog.envelope=" + fmt]):
            m = once(path, *flag)
            got = counts(m)
            diff = {k: (want.get(k), got.get(k)) for k in set(want) | set(got)
                    if want.get(k) != got.get(k)}
            assert not diff, (fmt, flag, sorted(diff.items())[:5])
            assert value(m, "maillog_envelope_lines_total", format=fmt) == EXPECTED_LINES, \
                (fmt, value(m, "maillog_envelope_lines_total", format=fmt), EXPECTED_LINES)
            assert value(m, "maillog_envelope_malformed_total", format=fmt) == 0
            assert value(m, "maillog_envelope_overlong_total", format=fmt) == 0
            other = "docker" if fmt == "cri" else "cri"
            assert value(m, "maillog_envelope_lines_total", format=other) is None


def test_wrong_envelope_counts_nothing():
    path = os.path.join(TMP, "wrong-cri.log")
    text = make_envelopes.cri(LINES)
    write(path, text)
    m = once(path, "--maillog.envelope=docker")
    assert status_total(m) == 0, status_total(m)
    assert value(m, "maillog_envelope_malformed_total", format="docker") == text.count("\n")
    m = once(path, "--maillog.envelope=none")
    assert status_total(m) != status_total(PLAIN_M)
    assert not any(n.startswith("maillog_envelope_") for n, _ in m)


def test_stream_time_for_headerless_line():
    line = next(l for l in LINES if "status=sent" in l and "postfix/smtp[" in l)
    bare = line[line.index("postfix/smtp["):]
    path = os.path.join(TMP, "headerless.log")
    write(path, "2026-12-06T18:31:07.25Z stdout F %s\n" % bare)
    m = once(path)
    want = calendar.timegm((2026, 12, 6, 18, 31, 7)) + 0.25
    got = value(m, "maillog_last_line_timestamp_seconds", mta="postfix")
    assert got == want, (got, want)
    assert status_total(m) == 1


def follow(fmt, dirpath, name, rotated_name):
    """Write the first half, rotate by rename, write the rest to a new file;
    a line cut in two writes on the way. Returns the final metrics."""
    os.makedirs(dirpath, exist_ok=True)
    path = os.path.join(dirpath, name)
    wrap = make_envelopes.cri if fmt == "cri" else make_envelopes.docker
    half = len(LINES) // 2
    first, second = wrap(LINES[:half]).splitlines(True), wrap(LINES[half:]).splitlines(True)
    # From the last part of a cut line on, records are written one at a
    # time, each after the daemon has read the one before: the parts of
    # that line arrive in separate reads and are joined all the same.
    if fmt == "cri":
        cut = max(i for i, r in enumerate(first) if r.split(" ", 3)[2] == "P")
    else:
        cut = max(i for i, r in enumerate(first) if '\\n","stream"' not in r)
    write(path, "".join(first[:cut]))
    want_first = expected_lines(LINES[:half])
    with harness.Daemon("--maillog.path=" + path, "--maillog.start=beginning") as d:
        def lines_seen(m):
            return value(m, "maillog_envelope_lines_total", format=fmt) or 0

        def records(m):
            return value(m, "maillog_lines_read_total", path=path) or 0

        d.wait_for(lambda m: records(m) >= cut, 30)
        for n, rec in enumerate(first[cut:]):
            write(path, rec, "a")
            d.wait_for(lambda m: records(m) >= cut + n + 1, 30)
        m = d.wait_for(lambda m: lines_seen(m) >= want_first, 30)
        assert lines_seen(m) == want_first, (fmt, lines_seen(m), want_first)
        # Rotation by rename, then the runtime opens a new file.
        rotated = os.path.join(dirpath, rotated_name)
        os.rename(path, rotated)
        write(path, "".join(second))
        want = want_first + expected_lines(LINES[half:])
        m = d.wait_for(lambda m: lines_seen(m) >= want and
                       (value(m, "maillog_rotations_total", path=path) or 0) >= 1, 60)
        # kubelet gzips the rotated file later; nothing is read twice.
        if fmt == "cri":
            with open(rotated, "rb") as src, gzip.open(rotated + ".gz", "wb") as dst:
                dst.write(src.read())
            os.unlink(rotated)
        m = d.wait_for(lambda m: False, 3)
        assert lines_seen(m) == want, (fmt, lines_seen(m), want)
        assert value(m, "maillog_rotations_total", path=path) == 1
        assert value(m, "maillog_envelope_malformed_total", format=fmt) == 0
        got = counts(m)
    want_counts = counts(PLAIN_M)
    # Only what --once shows of the same lines (the daemon shows no more).
    diff = {k: (want_counts.get(k), got.get(k)) for k in want_counts
            if want_counts.get(k) != got.get(k)}
    assert not diff, (fmt, sorted(diff.items())[:5])


def expected_lines(lines):
    return len(make_envelopes.expected(lines))


def test_daemon_cri_kubelet_rotation():
    pod = os.path.join(TMP, "pods", "mail_postfix-0_6f1c2a8e-0d1b-4c55-9a57-2d1f0c3b4a5e",
                       "postfix")
    follow("cri", pod, "0.log", "0.log.20261206-182904")


def test_daemon_docker_rotation():
    cid = "4f2a31c0b3" * 6 + "abcd"
    follow("docker", os.path.join(TMP, "containers", cid), cid + "-json.log",
           cid + "-json.log.1")


def log_counts(m):
    """counts(), with maillog_domain_status_total summed over domains: which
    domains get a label of their own depends on the order lines arrive in
    (the first ones seen), and two pods are read in no fixed order."""
    out = {}
    for (n, labels), v in counts(m).items():
        if n == "maillog_domain_status_total":
            labels = frozenset((k, x) for k, x in labels if k != "domain")
        out[(n, labels)] = out.get((n, labels), 0) + v
    return out


def per_path(m, name="maillog_lines_read_total"):
    return {dict(labels)["path"]: v for (n, labels), v in m.items() if n == name}


def test_daemon_pods_glob():
    """The DaemonSet's glob over a node's pod logs, with kubelet's
    /var/log/containers symlinks matched by a second glob: two pods in CRI
    format at start, kubelet rotating one (0.log -> 0.log.<time>, a new
    0.log, the old one gzipped later), and a third pod appearing later.
    Every line is counted once: the symlinks reach files the pod glob
    follows (by device and inode), the rotated and gzipped names do not
    match *.log, and the new pod is read from its start. The counts equal
    --once over the plain lines, and the files' series add up to every
    record written."""
    root = os.path.join(TMP, "node")
    pods_dir, links_dir = os.path.join(root, "pods"), os.path.join(root, "containers")
    os.makedirs(links_dir)
    # deploy/kubernetes/daemonset.yaml follows /var/log/pods/mail_*/postfix/*.log.
    pod_glob = os.path.join(pods_dir, "mail_*", "postfix", "*.log")
    link_glob = os.path.join(links_dir, "*_mail_postfix-*.log")
    uids = ["6f1c2a8e-0d1b-4c55-9a57-2d1f0c3b4a5%d" % k for k in range(3)]

    def pod(k, chunk):
        """Pod k's postfix container log, and its /var/log/containers link
        (relative, as kubelet makes them)."""
        name = "postfix-%d" % k
        d = os.path.join(pods_dir, "mail_%s_%s" % (name, uids[k]), "postfix")
        os.makedirs(d)
        path = os.path.join(d, "0.log")
        write(path, make_envelopes.cri(chunk))
        os.symlink(os.path.relpath(path, links_dir),
                   os.path.join(links_dir, "%s_mail_postfix-%s.log" % (name, ("%x" % k) * 64)))
        return path

    q = len(LINES) // 4
    chunks = [LINES[:q], LINES[q:2 * q], LINES[2 * q:3 * q], LINES[3 * q:]]
    records = sum(make_envelopes.cri(c).count("\n") for c in chunks)
    p0 = pod(0, chunks[0])
    p1 = pod(1, chunks[1])

    def lines_seen(m):
        return value(m, "maillog_envelope_lines_total", format="cri") or 0

    with harness.Daemon("--maillog.path=" + pod_glob, "--maillog.path=" + link_glob,
                        "--maillog.start=beginning") as d:
        want = expected_lines(chunks[0]) + expected_lines(chunks[1])
        m = d.wait_for(lambda m: lines_seen(m) >= want, 30)
        assert lines_seen(m) == want, (lines_seen(m), want)
        # kubelet's rotation: rename, then the runtime writes a new 0.log.
        rotated = p0 + ".20261206-214500"
        os.rename(p0, rotated)
        write(p0, make_envelopes.cri(chunks[2]))
        want += expected_lines(chunks[2])
        m = d.wait_for(lambda m: lines_seen(m) >= want, 60)
        assert lines_seen(m) == want, (lines_seen(m), want)
        # Later kubelet gzips the rotated file: a name the glob does not match.
        with open(rotated, "rb") as src, gzip.open(rotated + ".gz", "wb") as dst:
            dst.write(src.read())
        os.unlink(rotated)
        # A pod scheduled later: its directory, then its log, read whole.
        p2 = pod(2, chunks[3])
        want += expected_lines(chunks[3])
        m = d.wait_for(lambda m: lines_seen(m) >= want and
                       sum(per_path(m).values()) >= records, 60)
        # Past a reconcile sweep (15 x 2 s: the patterns globbed again),
        # still nothing read twice.
        deadline = time.monotonic() + 32
        while time.monotonic() < deadline:
            m = d.wait_for(lambda m: False, 2)
            assert lines_seen(m) == want, (lines_seen(m), want)
            assert sum(per_path(m).values()) == records, (per_path(m), records)
        assert value(m, "maillog_envelope_malformed_total", format="cri") == 0
        # The three pod logs, each its own series (the links have none: they
        # reach files followed already, unless one was opened first through
        # its link, which then has the series instead).
        assert len(per_path(m)) == 3, per_path(m)
        for k, p in enumerate((p0, p1, p2)):
            assert p in per_path(m) or any(l.startswith("postfix-%d_" % k) for l in
                                            map(os.path.basename, per_path(m))), per_path(m)
        assert value(m, "maillog_glob_files", path=pod_glob) + \
            value(m, "maillog_glob_files", path=link_glob) == 3, m
        got = log_counts(m)
    want_counts = log_counts(PLAIN_M)
    # Only what --once shows of the same lines (the daemon shows no more).
    diff = {k: (want_counts.get(k), got.get(k)) for k in want_counts
            if want_counts.get(k) != got.get(k)}
    assert not diff, sorted(diff.items())[:5]
    assert sum(v for (n, _), v in got.items() if n == "maillog_smtp_status_total") == \
        status_total(PLAIN_M) > 100


def test_restart_in_the_middle_of_a_joined_line():
    """--state.file saved while a line's P parts are read and its F part is
    not: the restart reads the parts again and counts the line once."""
    line = next(l for l in LINES if "status=sent" in l and "postfix/smtp[" in l)
    ts = "2026-12-06T18:31:07.25Z"
    parts = [line[k:k + 40] for k in range(0, len(line), 40)]
    recs = ["%s stdout %s %s\n" % (ts, "F" if n == len(parts) - 1 else "P", p)
            for n, p in enumerate(parts)]
    d_dir = os.path.join(TMP, "restart")
    os.makedirs(d_dir)
    path = os.path.join(d_dir, "0.log")
    state = os.path.join(d_dir, "state")
    write(path, "".join(recs[:-1]))
    args = ("--maillog.path=" + path, "--maillog.start=beginning", "--state.file=" + state)
    with harness.Daemon(*args) as d:
        m = d.wait_for(lambda m: value(m, "maillog_lines_read_total", path=path)
                       == len(recs) - 1, 30)
        assert value(m, "maillog_lines_read_total", path=path) == len(recs) - 1
        assert status_total(m) == 0
    assert d.proc.returncode == 0, d.stderr()
    write(path, recs[-1], "a")
    with harness.Daemon(*args) as d:
        m = d.wait_for(lambda m: status_total(m) >= 1, 30)
        m = d.wait_for(lambda m: False, 2)
        assert status_total(m) == 1, (status_total(m), d.stderr())
        assert value(m, "maillog_envelope_lines_total", format="cri") == 1
        assert value(m, "maillog_envelope_malformed_total", format="cri") == 0


def test_truncation_forgets_the_parts():
    """A CRI file truncated (copytruncate) while a line's P part waits for
    its F: the part belongs to the old content and is not glued to the
    new file's first line, which counts alone."""
    line = next(l for l in LINES if "status=sent" in l and "postfix/smtp[" in l)
    d_dir = os.path.join(TMP, "truncate")
    os.makedirs(d_dir)
    path = os.path.join(d_dir, "0.log")
    # The stale part's header says 1 December; the new line's, 6 December.
    stale = "2026-12-01T03:00:00Z stdout P Dec 01 03:00:00 mail postfix/smtp[9]: 1A: to=<stale@x>, "
    write(path, stale + "\n")
    with harness.Daemon("--maillog.path=" + path, "--maillog.start=beginning") as d:
        d.wait_for(lambda m: value(m, "maillog_lines_read_total", path=path) == 1, 30)
        os.truncate(path, 0)
        d.wait_for(lambda m: value(m, "maillog_truncations_total", path=path) == 1, 30)
        write(path, "2026-12-06T18:31:08Z stdout F %s\n" % line, "a")
        m = d.wait_for(lambda m: status_total(m) >= 1, 30)
        assert status_total(m) == 1, status_total(m)
        assert value(m, "maillog_envelope_lines_total", format="cri") == 1
        ts = value(m, "maillog_last_line_timestamp_seconds", mta="postfix")
        assert ts is not None and time.localtime(ts).tm_mday == 6, (ts, line)


cases.run(test_once_equals_plain)
cases.run(test_wrong_envelope_counts_nothing)
cases.run(test_stream_time_for_headerless_line)
cases.run(test_daemon_cri_kubelet_rotation)
cases.run(test_daemon_docker_rotation)
cases.run(test_daemon_pods_glob)
cases.run(test_restart_in_the_middle_of_a_joined_line)
cases.run(test_truncation_forgets_the_parts)
cases.finish()
