"""deploy/quickstart.sh's own logic, with the commands it would run on a
fresh machine (apt-get, build-aux/pgo-build.sh, install, useradd, runuser)
replaced by recorders: it must build with the profile-guided script, install
what that built, print the status page's and the metrics' URLs for the
listen address it is given, and hand every argument unchanged to the
exporter it starts as user maillog_exporter.

Installing packages and a system user for real is not this test's job
(and not something a test suite may do to the machine it runs on); the
build it performs is tests/deploy/test_pgo.py's."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import harness  # noqa: E402

cases = harness.Cases()
SRC = os.path.normpath(os.path.join(os.environ["TESTS_DIR"], ".."))
RECORDER = """#!/bin/sh
printf '%%s' "$(basename "$0")" >> "%(log)s"
for a in "$@"; do printf ' <%%s>' "$a" >> "%(log)s"; done
echo >> "%(log)s"
%(extra)s
"""
EXTRA = {
    "id": 'if [ "$1" = -u ]; then echo 0; fi',
    "hostname": "echo mx.example.test",
}


def quickstart(*args):
    """Run a copy of quickstart.sh; return (exit code, stdout, recorded calls)."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "src", "deploy"))
        shutil.copy(os.path.join(SRC, "deploy", "quickstart.sh"),
                    os.path.join(d, "src", "deploy", "quickstart.sh"))
        shims = os.path.join(d, "bin")
        os.makedirs(shims)
        os.makedirs(os.path.join(d, "src", "build-aux"))
        log = os.path.join(d, "calls")
        for path in [os.path.join(shims, name) for name in
                     ("apt-get", "meson", "install", "useradd", "runuser", "id", "hostname")] + \
                [os.path.join(d, "src", "build-aux", "pgo-build.sh")]:
            with open(path, "w") as f:
                f.write(RECORDER % {"log": log, "extra": EXTRA.get(os.path.basename(path), "")})
            os.chmod(path, 0o755)
        env = dict(os.environ, PATH=shims + ":/usr/bin:/bin")
        p = subprocess.run(["bash", os.path.join(d, "src", "deploy", "quickstart.sh")] +
                           list(args), capture_output=True, text=True, env=env, timeout=60)
        calls = open(log).read().splitlines() if os.path.exists(log) else []
    return p.returncode, p.stdout + p.stderr, calls


def check_urls(args, base):
    rc, out, calls = quickstart(*args)
    assert rc == 0, (rc, out)
    assert "status page: %s/\n" % base in out, out
    assert "metrics:     %s/metrics\n" % base in out, out
    built = [c for c in calls if c.startswith(("pgo-build.sh ", "meson "))]
    assert built == ["pgo-build.sh <build-quickstart> <-Dtests=false>"], calls
    installed = [c for c in calls if c.startswith("install <-m> <0755>")]
    assert installed == ["install <-m> <0755> <build-quickstart/daemon/maillog_exporter> "
                         "</usr/local/bin/maillog_exporter>"], calls
    started = [c for c in calls if c.startswith("runuser ")]
    want = "runuser <-u> <maillog_exporter> <--> </usr/local/bin/maillog_exporter>" + \
        "".join(" <%s>" % a for a in args)
    assert started == [want], (started, want)


def test_default_listen_address():
    check_urls([], "http://mx.example.test:9745")


def test_listen_address_with_equals():
    check_urls(["--maillog.path=/var/log/mail.log", "--web.listen-address=127.0.0.1:9999"],
               "http://127.0.0.1:9999")


def test_listen_address_as_two_words_and_ipv6():
    check_urls(["--web.listen-address", "[::1]:9745"], "http://[::1]:9745")


def test_last_listen_address_wins():
    """As the exporter itself takes the last of a repeated flag."""
    check_urls(["--web.listen-address=127.0.0.1:1", "--web.listen-address=:9746"],
               "http://mx.example.test:9746")


for fn in (test_default_listen_address, test_listen_address_with_equals,
           test_listen_address_as_two_words_and_ipv6, test_last_listen_address_wins):
    cases.run(fn)
cases.finish()
