"""The checks a maillog_exporter.service must pass wherever it is installed:
`systemd-analyze verify`, and `systemd-analyze security --offline=true`
scoring exactly what docs/operations.md records, "OK", with the sandboxing checks the
unit exists for. tests/deploy/test_systemd.py runs them on deploy/'s unit,
tests/deploy/test_deb.py on the one the Debian package installs.
"""
import json
import os
import re
import shutil
import subprocess

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MANUAL = os.path.join(ROOT, "docs", "operations.md")
ANALYZE = shutil.which("systemd-analyze")


def verify(path):
    """`systemd-analyze verify` passes and says nothing."""
    p = subprocess.run([ANALYZE, "verify", path], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr.strip() == "", (p.returncode, p.stderr)


def recorded_score():
    with open(MANUAL) as f:
        m = re.search(r"systemd-analyze security --offline=true[^\n]*\n*[^\n]*?"
                      r"exposure (?:level |score )?(?:of )?\*?\*?(\d+\.\d)", f.read())
    assert m, "docs/operations.md records no systemd-analyze security score"
    return float(m.group(1))


def security(path):
    """The exposure score of the unit at `path` (named maillog_exporter.service)
    is docs/operations.md's, rated OK, and the issue's sandboxing is all in place."""
    p = subprocess.run([ANALYZE, "security", "--offline=true", path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.search(r"Overall exposure level for maillog_exporter.service: (\d+\.\d) (\w+)",
                  p.stdout)
    assert m, p.stdout[-500:]
    score = float(m.group(1))
    assert score == recorded_score(), (
        "docs/operations.md records %.1f, systemd-analyze says %.1f" % (recorded_score(), score))
    assert m.group(2) == "OK", m.group(0)
    # --threshold (in tenths) makes systemd-analyze itself fail above it.
    tenths = int(round(score * 10))
    for threshold, ok in ((tenths, True), (tenths - 1, False)):
        p = subprocess.run([ANALYZE, "security", "--offline=true",
                            "--threshold=%d" % threshold, path],
                           capture_output=True, text=True, timeout=60)
        assert (p.returncode == 0) == ok, (threshold, p.returncode)
    # The checks the issue names must each be satisfied.
    p = subprocess.run([ANALYZE, "security", "--offline=true", "--json=short", path],
                       capture_output=True, text=True, timeout=60)
    checks = {c["name"]: c["set"] for c in json.loads(p.stdout)}
    for name in ("ProtectSystem=", "ProtectHome=", "NoNewPrivileges=", "PrivateTmp=",
                 "RestrictAddressFamilies=~AF_PACKET", "RestrictAddressFamilies=~…",
                 "SystemCallFilter=~@privileged", "CapabilityBoundingSet=~CAP_SYS_ADMIN",
                 "CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)",
                 "User=/DynamicUser=", "NotifyAccess="):
        assert checks.get(name) is True, (name, checks.get(name))
    return score


def directives(text):
    """{key: [values]} of a unit file's settings, in order, comments left out."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
    return out
