"""build-aux/pgo-build.sh and build-aux/pgo-train.sh: the profile-guided
build that deploy/quickstart.sh and debian/rules make (test_deb.py checks
the package's build log names the training run).

- the build runs all three steps, -Werror: instrumented, trained (it says
  how many profiles it wrote), rebuilt with every object compiled with
  -fprofile-use, -fprofile-partial-training and -flto, and none left
  instrumented;
- the optimised binary behaves as the plain one: its --once expositions of
  generated Postfix, Exim (mainlog and syslog) and Sendmail logs (another
  seed than the training's) and of every golden test log, and its report
  of the generated Postfix log, are the same as the suite's own binary's,
  but for the samples that tell the clock or the process (RSS, start time,
  lag); on the generated logs, the kind it trains on, the status lines
  counted are gen_log.py's --truth, with no line unmatched;
- pgo-build.sh replaces BUILDDIR only if it is a build directory (or
  empty): a directory with anything else in it is left as it was;
- pgo-train.sh refuses, saying why, a build that is not instrumented, a
  build with no binary, a training run that counts nothing, and a run that
  leaves no profile (GCOV_PREFIX sends them elsewhere).

It compiles the project three times (under a minute on two cores) and writes only
under a temporary directory."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import harness  # noqa: E402

cases = harness.Cases()
SRC = os.path.normpath(os.path.join(os.environ["TESTS_DIR"], ".."))
PLAIN = os.environ["MAILLOG_EXPORTER"]
TMP = tempfile.mkdtemp(prefix="test_pgo.")
BUILD = os.path.join(TMP, "build")
BIN = os.path.join(BUILD, "daemon", "maillog_exporter")
TRAIN = os.path.join(SRC, "build-aux", "pgo-train.sh")
# Samples that differ between any two runs of the same binary.
CLOCK = re.compile(r"^(process_|maillog_lag_seconds|maillog_read_lag|maillog_last_"
                   r"|maillog_exporter_build_info)")


def run(cmd, env=None, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, TZ="UTC", **(env or {})), **kw)


def exposition(binary, log):
    p = run([binary, "--once", "--maillog.path=" + log])
    assert p.returncode == 0, (binary, log, p.stderr[-2000:])
    return [l for l in p.stdout.splitlines() if not CLOCK.match(l)]


def test_build_runs_all_three_steps():
    p = run([os.path.join(SRC, "build-aux", "pgo-build.sh"), BUILD,
             "-Dtests=false", "-Dwerror=true"])
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    m = re.search(r"pgo-train\.sh: 100000 lines of each of postfix, exim, exim-syslog, "
                  r"sendmail trained, (\d+) profiles written", p.stdout)
    assert m and int(m.group(1)) > 0, p.stdout[-2000:]
    with open(os.path.join(BUILD, "compile_commands.json")) as f:
        cmds = [c["command"] for c in json.load(f)]
    assert cmds
    for c in cmds:
        assert "-fprofile-use" in c and "-fprofile-partial-training" in c, c
        assert "-flto" in c, c
        assert "-fprofile-generate" not in c, c
    assert os.access(BIN, os.X_OK)


def test_build_replaces_only_a_build_directory():
    d = os.path.join(TMP, "not-a-build")
    os.makedirs(d)
    keep = os.path.join(d, "notes.txt")
    with open(keep, "w") as f:
        f.write("mine\n")
    p = run([os.path.join(SRC, "build-aux", "pgo-build.sh"), d])
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "is not a meson build directory; not replacing it" in p.stderr, p.stderr
    assert open(keep).read() == "mine\n"


def test_behaves_as_the_plain_build():
    gen, truth = [], {}
    for fmt in ("postfix", "exim", "exim-syslog", "sendmail"):
        gen.append(os.path.join(TMP, fmt + ".log"))
        cmd = [sys.executable, os.path.join(SRC, "tests", "bench", "gen_log.py"),
               "--format", fmt, "--lines", "20000", "--seed", "2"]
        with open(gen[-1], "w") as f:
            subprocess.run(cmd, stdout=f, check=True)
        truth[gen[-1]] = json.loads(subprocess.run(cmd + ["--truth"], capture_output=True,
                                                   check=True).stdout)["status_lines"]
    log = gen[0]
    logs = gen + sorted(glob.glob(os.path.join(SRC, "tests", "data", "*", "golden.txt")))
    for path in logs:
        a, b = exposition(BIN, path), exposition(PLAIN, path)
        assert any(l.startswith("maillog_smtp_status_total{") for l in a), path
        assert a == b, (path, [l for l in a if l not in b][:5], [l for l in b if l not in a][:5])
        if path in truth:
            # The training logs are lines the exporter counts, every one.
            counted = sum(float(l.rsplit(" ", 1)[1]) for l in a
                          if l.startswith("maillog_smtp_status_total{"))
            unmatched = sum(float(l.rsplit(" ", 1)[1]) for l in a
                            if l.startswith("maillog_unmatched_lines_total{"))
            assert (counted, unmatched) == (truth[path], 0), (path, counted, unmatched,
                                                              truth[path])
    ra, rb = run([BIN, "report", log]), run([PLAIN, "report", log])
    assert ra.returncode == 0 and rb.returncode == 0, (ra.stderr, rb.stderr)
    assert ra.stdout == rb.stdout and "250" in ra.stdout


def refused(env, why):
    p = run([TRAIN, BUILD], env=env)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert why in p.stderr, p.stderr


def test_train_refuses_what_it_cannot_use():
    # The build is now an optimised one, not an instrumented one.
    refused(None, "is not an instrumented build")
    p = run(["meson", "configure", BUILD, "-Db_pgo=generate"])
    assert p.returncode == 0, p.stderr
    p = run(["meson", "compile", "-C", BUILD])
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    refused({"PGO_TRAIN_LINES": "0"}, "the training run counted no postfix status line")
    refused({"GCOV_PREFIX": os.path.join(TMP, "elsewhere"), "PGO_TRAIN_LINES": "2000"},
            "the training run wrote no profile")
    os.rename(BIN, BIN + ".away")
    refused(None, "compile %s first" % BUILD)
    os.rename(BIN + ".away", BIN)
    p = run([TRAIN, BUILD], env={"PGO_TRAIN_LINES": "2000"})
    assert p.returncode == 0 and "2000 lines of each" in p.stdout, p.stdout + p.stderr


try:
    for fn in (test_build_runs_all_three_steps, test_build_replaces_only_a_build_directory,
               test_behaves_as_the_plain_build,
               test_train_refuses_what_it_cannot_use):
        cases.run(fn)
finally:
    shutil.rmtree(TMP, ignore_errors=True)
cases.finish()
