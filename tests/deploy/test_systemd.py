"""deploy/maillog_exporter.service, its sysusers.d snippet and its
/etc/default file, checked with systemd's own offline tools (CI has no
systemd as PID 1; nothing here starts a service):

- `systemd-analyze verify` passes, on a copy of the unit whose ExecStart
  points at the built binary (verify wants the binary to exist);
- `systemd-analyze security --offline=true` scores it no worse than the
  score docs/operations.md records, and the issue's sandboxing is all in place;
- systemd-sysusers creates the user, in group adm, in a scratch root;
- the default file's ARGS are flags the exporter knows.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import harness  # noqa: E402
import unitcheck  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
UNIT = os.path.join(ROOT, "deploy", "maillog_exporter.service")
SYSUSERS = os.path.join(ROOT, "deploy", "sysusers.d", "maillog_exporter.conf")
DEFAULT = os.path.join(ROOT, "deploy", "maillog_exporter.default")
INSTALLED = "/usr/local/bin/maillog_exporter"

harness.require_binary()
if unitcheck.ANALYZE is None:
    print("SKIP: no systemd-analyze (Debian package systemd)")
    sys.exit(harness.SKIP)
cases = harness.Cases()


def unit_text():
    with open(UNIT) as f:
        return f.read()


def directives():
    return unitcheck.directives(unit_text())


def unit_copy(d):
    """The unit with ExecStart on the built binary, under its own name."""
    text = unit_text()
    assert INSTALLED in text, "ExecStart does not run " + INSTALLED
    path = os.path.join(d, "maillog_exporter.service")
    with open(path, "w") as f:
        f.write(text.replace(INSTALLED, harness.BIN))
    return path


def test_verify():
    with tempfile.TemporaryDirectory() as d:
        unitcheck.verify(unit_copy(d))


def test_verify_catches_errors():
    """The check can fail: a misspelt directive is reported."""
    with tempfile.TemporaryDirectory() as d:
        path = unit_copy(d)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("ProtectHome=yes", "ProtectHomee=yes"))
        p = subprocess.run([unitcheck.ANALYZE, "verify", path], capture_output=True, text=True,
                           timeout=60)
        assert "ProtectHomee" in p.stderr, p.stderr


def test_security_score():
    with tempfile.TemporaryDirectory() as d:
        unitcheck.security(unit_copy(d))


def test_required_directives():
    d = directives()
    want = {
        "Type": "notify", "User": "maillog_exporter", "SupplementaryGroups": "adm",
        "ExecReload": "/bin/kill -HUP $MAINPID", "StateDirectory": "maillog_exporter",
        "ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes",
        "PrivateTmp": "yes", "CapabilityBoundingSet": "",
        "EnvironmentFile": "-/etc/default/maillog_exporter",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    for k, v in want.items():
        assert v in d.get(k, []), (k, d.get(k))
    assert "@system-service" in d["SystemCallFilter"], d["SystemCallFilter"]
    assert re.fullmatch(r"\d+[KMG]", d["MemoryMax"][0]), d["MemoryMax"]
    assert d["ExecStart"] == [INSTALLED + " --state.file=/var/lib/maillog_exporter/state $ARGS"], \
        d["ExecStart"]
    # The state file must be in the one writable directory.
    assert d["StateDirectory"] == ["maillog_exporter"], d["StateDirectory"]


def test_sysusers_creates_user_in_adm():
    tool = shutil.which("systemd-sysusers")
    assert tool, "systemd-sysusers missing"
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "etc"))
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\nadm:x:4:\n")
        open(os.path.join(root, "etc", "passwd"), "w").close()
        p = subprocess.run([tool, "--root=" + root, SYSUSERS], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {line.split(":")[0]: line.strip().split(":") for line in f if line.strip()}
        u = users["maillog_exporter"]
        assert u[5] == "/nonexistent" and u[6] == "/usr/sbin/nologin", u
        assert 0 < int(u[2]) < 1000, u  # a system user
        with open(os.path.join(root, "etc", "group")) as f:
            groups = {line.split(":")[0]: line.strip().split(":") for line in f if line.strip()}
        assert "maillog_exporter" in groups["adm"][3].split(","), groups["adm"]


def test_default_file_args():
    """ARGS, as the unit reads it, holds only flags the exporter accepts."""
    p = subprocess.run(["bash", "-c", 'set -a; . "$1"; printf "%s" "$ARGS"', "-", DEFAULT],
                       capture_output=True, text=True, timeout=30)
    args = p.stdout.split()
    assert args and all(a.startswith("--") for a in args), args
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        with open(log, "w") as f:
            f.write(harness.postfix_line(1) + "\n")
        # The file's own log path is the system's; point the same flags at a
        # scratch log and check they parse and run.
        args = [a for a in args if not a.startswith("--maillog.path=")]
        rc, out, err = harness.run(*args, "--maillog.path=" + log, "--once")
        assert rc == 0, (args, rc, err)
        assert 'code="250"' in out, out[:500]


cases.run(test_verify)
cases.run(test_verify_catches_errors)
cases.run(test_security_score)
cases.run(test_required_directives)
cases.run(test_sysusers_creates_user_in_adm)
cases.run(test_default_file_args)
cases.finish()
