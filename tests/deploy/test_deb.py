"""The Debian package prometheus-maillog-exporter (debian/), end to end on
this machine, as a Debian admin would meet it:

- dpkg-buildpackage -us -uc -b builds it from a clean copy of the tracked
  source files (never in the source tree itself), profile-guided (trained,
  then rebuilt with the profile), running the unit suite;
- lintian finds no error, and no warning beyond the ones listed below;
- apt-get install ./….deb installs it with a policy-rc.d in place, so
  nothing starts: the files land where they should, /etc/default/… is a
  conffile, the system user exists as deploy/sysusers.d defines it (in group
  adm), the service is enabled and not running;
- the installed unit passes systemd-analyze verify and scores docs/operations.md's
  exposure in systemd-analyze security --offline=true (unitcheck.py, the
  same checks as test_systemd.py), and differs from deploy/'s only in
  ExecStart's path and a Documentation= line;
- the installed binary, run as the package's user with the unit's command
  line and the default file's flags, counts a log it can read only through
  group adm (root:adm 0640), serves it on 127.0.0.1, and is stopped by PID;
  without group adm the same user cannot read the log;
- reinstalling over itself keeps an edit of the conffile, the user and
  the state;
- apt-get remove keeps the conffile and the state, and removes the rest;
  apt-get purge removes the conffile and the state directory, and keeps the
  system user, as Debian does.

It really installs a package on this machine, so it runs only as root
(skip otherwise), refuses to start if the package or its config or state
is already there (it would purge them), and always purges what it installed
and stops what it started, even on failure or SIGTERM. The user it made is
deleted at the end only if it did not exist before.
"""
import gzip
import os
import pwd
import grp
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
import harness  # noqa: E402
import unitcheck  # noqa: E402

ROOT = unitcheck.ROOT
PKG = "prometheus-maillog-exporter"
USER = "maillog_exporter"
BIN = "/usr/bin/maillog_exporter"
UNIT = "/lib/systemd/system/maillog_exporter.service"
DEFAULT = "/etc/default/maillog_exporter"
STATE_DIR = "/var/lib/maillog_exporter"
SHARE = "/usr/share/" + PKG
DOC = "/usr/share/doc/" + PKG
WANTS = "/etc/systemd/system/multi-user.target.wants/maillog_exporter.service"
POLICY = "/usr/sbin/policy-rc.d"

# lintian warnings that stay, and why (docs/operations.md, "Debian package"). Any
# other warning, and any error, fails the test.
KNOWN_WARNINGS = {
    # The first changelog entry of a Debian package closes its ITP bug; no
    # ITP was filed, as no archive carries the package yet.
    "initial-upload-closes-no-bugs",
}

if os.geteuid() != 0:
    print("SKIP: installs a package on this machine; needs root")
    sys.exit(harness.SKIP)
if unitcheck.ANALYZE is None:
    raise SystemExit("systemd-analyze missing (Debian package systemd, tests/run.sh)")


def manual_names():
    """docs/*.md: the manual README.md points into."""
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md"))
    assert names, "no docs/*.md"
    return names


class Terminated(BaseException):
    """Not an Exception: harness.Cases must not take it for one failed case."""


def on_sigterm(signum, frame):
    # meson test's timeout sends SIGTERM: unwind through the finally below,
    # whose cleanup() purges the package and stops the daemon.
    raise Terminated("SIGTERM")


signal.signal(signal.SIGTERM, on_sigterm)

cases = harness.Cases()
state = {}   # what the steps found or made, for the later steps and cleanup


def sh(*argv, timeout=300, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, (argv, p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    return p


def pkg_status():
    """dpkg's status of the package: 'installed', 'config-files', ..., or
    'not-installed' when dpkg has no record of it."""
    p = sh("dpkg-query", "-W", "-f=${db:Status-Status}", PKG, check=False)
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else "not-installed"


def apt_get(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Another apt (CI's own install, unattended upgrades) may hold the lock.
    # Its own session, writing to a file rather than a pipe to us: a
    # SIGTERM to the test's process group, or our death, must not stop
    # dpkg halfway; cleanup() waits for it instead.
    with tempfile.NamedTemporaryFile("w+", dir=state["tmp"], prefix="apt.") as out:
        p = subprocess.Popen(["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", *args],
                             env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        state["apt_pid"] = p.pid
        p.wait()
        del state["apt_pid"]
        out.seek(0)
        assert p.returncode == 0, (args, p.returncode, out.read()[-3000:])


def read(path):
    with open(path, "rb") as f:
        return f.read()


def exporter_pids():
    """PIDs of every running process whose executable is the packaged binary."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % d) in (BIN, BIN + " (deleted)"):
                    out.append(int(d))
            except OSError:
                pass
    return out


def project_version():
    with open(os.path.join(ROOT, "meson.build")) as f:
        return re.search(r"project\([^)]*?version:\s*'([^']+)'", f.read(), re.S).group(1)


def source_files():
    """The tracked files (their working-tree contents), or, outside a git
    checkout, every file but build directories and caches."""
    p = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True)
    if p.returncode == 0 and p.stdout:
        return [f for f in p.stdout.decode().split("\0")
                if f and os.path.lexists(os.path.join(ROOT, f))]
    out = []
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in (".git", "__pycache__")
                   and not os.path.exists(os.path.join(d, x, "meson-private"))]
        out += [os.path.relpath(os.path.join(d, f), ROOT) for f in files]
    return out


def test_preflight():
    """Nothing of the package is on the machine: the test would purge it."""
    st = pkg_status()
    assert st == "not-installed", (
        "%s is already on this machine (%s); this test installs and purges it, so it "
        "will not run here: dpkg --purge %s first" % (PKG, st, PKG))
    for path in (DEFAULT, STATE_DIR):
        assert not os.path.lexists(path), (
            "%s exists (a manual install?); purging the package would delete it" % path)
    assert not exporter_pids(), "a %s is already running" % BIN
    try:
        pwd.getpwnam(USER)
        state["user_existed"] = True
    except KeyError:
        state["user_existed"] = False


def test_changelog_version():
    """debian/changelog's upstream version is meson's project version."""
    p = sh("dpkg-parsechangelog", "-l", os.path.join(ROOT, "debian", "changelog"),
           "-S", "Version")
    version = p.stdout.strip()
    assert re.fullmatch(r"[0-9.]+-\d+", version), version
    assert version.rsplit("-", 1)[0] == project_version(), (version, project_version())
    state["version"] = version
    p = sh("dpkg-parsechangelog", "-l", os.path.join(ROOT, "debian", "changelog"),
           "-S", "Source")
    assert p.stdout.strip() == PKG, p.stdout


def test_build():
    tmp = state["tmp"]
    src = os.path.join(tmp, "%s-%s" % (PKG, project_version()))
    for rel in source_files():
        s, d = os.path.join(ROOT, rel), os.path.join(src, rel)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if os.path.islink(s):
            os.symlink(os.readlink(s), d)
        else:
            shutil.copy2(s, d)
    # The meson test's environment is not the package build's.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAILLOG_EXPORTER", "TESTS_DIR", "ASAN_OPTIONS", "UBSAN_OPTIONS",
                        "HAVE_LIBSYSTEMD", "MALLOC_PERTURB_", "MESON_TEST_ITERATION")}
    env["LC_ALL"] = "C.UTF-8"
    t0 = time.monotonic()
    p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=900)
    log = p.stdout
    with open(os.path.join(tmp, "build.log"), "w") as f:
        f.write(log)
    print("  dpkg-buildpackage: %.1f s" % (time.monotonic() - t0))
    assert p.returncode == 0, log[-4000:]
    # dh_auto_test ran the unit suite, and all of it passed.
    assert "meson test --suite unit" in log, "the unit suite did not run"
    ok = re.search(r"^Ok:\s+(\d+)", log, re.M)
    fail = re.search(r"^Fail:\s+(\d+)", log, re.M)
    assert ok and int(ok.group(1)) > 0 and fail and fail.group(1) == "0", log[-3000:]
    # Profile-guided (debian/rules, build-aux/pgo-train.sh): the training
    # run wrote profiles, and the binary was then compiled with them.
    m = re.search(r"^pgo-train\.sh: \d+ lines of each of .* trained, (\d+) profiles written",
                  log, re.M)
    assert m and int(m.group(1)) > 0, "no training run in the build log"
    assert "-fprofile-use" in log[m.end():], "not rebuilt with the profile"
    arch = sh("dpkg-architecture", "-qDEB_HOST_ARCH").stdout.strip()
    deb = os.path.join(tmp, "%s_%s_%s.deb" % (PKG, state["version"], arch))
    changes = os.path.join(tmp, "%s_%s_%s.changes" % (PKG, state["version"], arch))
    assert os.path.exists(deb) and os.path.exists(changes), os.listdir(tmp)
    state["deb"], state["changes"] = deb, changes

    files = set()
    for line in sh("dpkg-deb", "-c", deb).stdout.splitlines():
        if not line.startswith("d"):
            files.add(line.split()[5].lstrip("."))
    want = {BIN, "/usr/share/man/man1/maillog_exporter.1.gz", UNIT, DEFAULT,
            SHARE + "/rules.yml", SHARE + "/maillog.json",
            SHARE + "/custom-parsers.example.yml",
            DOC + "/README.md.gz", DOC + "/README.Debian", DOC + "/changelog.Debian.gz",
            DOC + "/copyright"}
    assert want <= files, sorted(want - files)
    # The manual, in docs/ beside README.md as in the source tree, so its
    # links still meet; dh_compress gzips the larger files.
    for name in manual_names():
        base = DOC + "/docs/" + name
        assert base in files or base + ".gz" in files, (name, sorted(files))
    ctrl = os.path.join(tmp, "control")
    sh("dpkg-deb", "-e", deb, ctrl)
    assert read(os.path.join(ctrl, "conffiles")).decode().split() == [DEFAULT]
    # postinst makes the user before debhelper's snippet enables the unit,
    # and starts it only through deb-systemd-invoke, which asks policy-rc.d
    # (on a machine without systemd as PID 1, as CI, it does not try).
    postinst = read(os.path.join(ctrl, "postinst")).decode()
    assert postinst.index("adduser") < postinst.index("deb-systemd-helper enable"), postinst
    assert "deb-systemd-invoke $_dh_action 'maillog_exporter.service'" in postinst, postinst
    assert not re.search(r"(systemctl|service)\b[^\n]*\b(start|restart)\b", postinst), postinst
    assert sh("dpkg-deb", "-f", deb, "Package").stdout.strip() == PKG
    # The unit is Type=notify: the binary must have sd_notify (libsystemd),
    # which meson treats as optional. And postinst needs adduser. The
    # binary dlopens libmicrohttpd, GnuTLS and libsystemd (util/dynload.h),
    # so no DT_NEEDED names them: debian/rules shows dpkg-shlibdeps
    # daemon/dlopen_deps instead, and each must still be a dependency, with
    # the minimum version its symbols file gives (t64: Debian 13's names).
    # libsystemd0's symbols file gives every function we use version 0,
    # "any": dpkg-shlibdeps writes no version for it.
    depends = sh("dpkg-deb", "-f", deb, "Depends").stdout
    assert re.search(r"\badduser\b", depends), depends
    assert re.search(r"(^|, )libsystemd0($|,| \()", depends), depends
    for lib in ("libmicrohttpd12(t64)?", "libgnutls30(t64)?"):
        assert re.search(r"(^|, )%s \(>= [0-9][^)]*\)" % lib, depends), (lib, depends)


def test_lintian():
    """No error; every warning is one of KNOWN_WARNINGS. Run as nobody:
    lintian advises against root, and needs no privilege. It runs in the
    package's directory: lintian goes back to its working directory, and
    the one meson gives (the build tree of a checkout) may be one nobody
    cannot enter, such as a clone under a mode-0700 directory."""
    os.chmod(state["tmp"], 0o755)
    p = sh("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--reset-env",
           "lintian", "--fail-on", "error", "--display-info", "--pedantic", state["changes"],
           check=False, cwd=os.path.dirname(state["changes"]))
    print("  lintian:\n" + "".join("    " + l + "\n" for l in p.stdout.splitlines()), end="")
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    tags = re.findall(r"^([EWIPX]): \S+: (\S+)", p.stdout, re.M)
    assert not [t for k, t in tags if k == "E"], tags
    unknown = {t for k, t in tags if k == "W"} - KNOWN_WARNINGS
    assert not unknown, "new lintian warnings: %s" % sorted(unknown)
    assert p.stderr.strip() == "", p.stderr


def test_install():
    assert "deb" in state, "no package was built"
    if not os.path.exists(POLICY):
        # Debian's way to forbid invoke-rc.d/deb-systemd-invoke from starting
        # services: exit 101, "action forbidden by policy".
        with open(POLICY, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(POLICY, 0o755)
        state["policy_created"] = True
    state["installed"] = state["ever_installed"] = True   # from here on, cleanup() purges
    apt_get("install", "--no-install-recommends", state["deb"])
    assert pkg_status() == "installed", pkg_status()

    assert os.access(BIN, os.X_OK)
    p = sh(BIN, "--version")
    assert p.stdout.startswith("maillog_exporter %s " % project_version()), p.stdout
    assert sh("man", "-w", "maillog_exporter").stdout.strip() == \
        "/usr/share/man/man1/maillog_exporter.1.gz"
    # The conffile, the shipped files and the docs are deploy/'s, README's and docs/'s.
    assert read(DEFAULT) == read(os.path.join(ROOT, "deploy", "maillog_exporter.default"))
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", PKG).stdout.split()
    assert DEFAULT in conffiles, conffiles
    for name, orig in (("rules.yml", "deploy/prometheus/rules.yml"),
                       ("maillog.json", "deploy/grafana/maillog.json"),
                       ("custom-parsers.example.yml", "deploy/custom-parsers.example.yml")):
        assert read(os.path.join(SHARE, name)) == read(os.path.join(ROOT, orig)), name
    with gzip.open(DOC + "/README.md.gz") as f:
        assert f.read() == read(os.path.join(ROOT, "README.md"))
    for name in manual_names():
        base = DOC + "/docs/" + name
        if os.path.exists(base + ".gz"):
            with gzip.open(base + ".gz") as f:
                installed = f.read()
        else:
            installed = read(base)
        assert installed == read(os.path.join(ROOT, "docs", name)), name

    # The system user, as deploy/sysusers.d/maillog_exporter.conf defines it.
    sysusers = read(os.path.join(ROOT, "deploy", "sysusers.d", "maillog_exporter.conf")).decode()
    u = re.search(r'^u maillog_exporter - "[^"]*" (\S+) (\S+)$', sysusers, re.M)
    m = re.findall(r"^m maillog_exporter (\S+)$", sysusers, re.M)
    pw = pwd.getpwnam(USER)
    assert (pw.pw_dir, pw.pw_shell) == (u.group(1), u.group(2)), pw
    assert 0 < pw.pw_uid < 1000, pw          # a system user
    assert grp.getgrgid(pw.pw_gid).gr_name == USER, pw   # the unit's Group=
    for g in m:
        assert USER in grp.getgrnam(g).gr_mem, (g, grp.getgrnam(g))
    assert m == ["adm"], m
    assert not os.path.exists(pw.pw_dir), pw.pw_dir

    # Enabled (deb-systemd-helper's symlink), and not started.
    assert os.path.islink(WANTS) and os.readlink(WANTS) == UNIT, WANTS
    assert not exporter_pids(), "the package started the exporter despite policy-rc.d"


def test_unit():
    """The installed unit: verify, the security score, and deploy/'s
    directives but for ExecStart's path and the man page link."""
    assert pkg_status() == "installed", pkg_status()
    unitcheck.verify(UNIT)
    score = unitcheck.security(UNIT)
    print("  systemd-analyze security: %.1f" % score)
    installed = unitcheck.directives(read(UNIT).decode())
    deploy = unitcheck.directives(read(os.path.join(ROOT, "deploy",
                                                    "maillog_exporter.service")).decode())
    deploy["ExecStart"] = [v.replace("/usr/local/bin/", "/usr/bin/")
                           for v in deploy["ExecStart"]]
    assert installed.pop("Documentation") == ["man:maillog_exporter(1)"]
    assert installed == deploy, (installed, deploy)
    assert "/usr/local" not in read(UNIT).decode()


def service_argv(log, addr):
    """The unit's ExecStart with the default file's ARGS, as systemd would
    run it, but on the test's log and listen address."""
    exec_start = unitcheck.directives(read(UNIT).decode())["ExecStart"][0]
    p = sh("bash", "-c", 'set -a; . "$1"; printf "%s" "$ARGS"', "-", DEFAULT)
    args = [a for a in p.stdout.split()
            if not a.startswith(("--maillog.path=", "--web.listen-address="))]
    argv = exec_start.replace("$ARGS", " ".join(args)).split()
    assert argv[0] == BIN, argv
    return argv + ["--maillog.path=" + log, "--maillog.start=beginning",
                   "--web.listen-address=" + addr]


def test_run_as_user():
    assert pkg_status() == "installed", pkg_status()
    pw = pwd.getpwnam(USER)
    adm = grp.getgrnam("adm").gr_gid
    # The log in a directory anyone may enter, readable only by root and adm.
    d = os.path.join(state["tmp"], "log")
    os.mkdir(d)
    os.chmod(d, 0o755)
    log = os.path.join(d, "mail.log")
    n = 300
    with open(log, "w") as f:
        for i in range(n):
            code, enh = harness.code_for(i)
            f.write(harness.postfix_line(i, code, enh) + "\n")
    os.chown(log, 0, adm)
    os.chmod(log, 0o640)
    want = {}
    for i in range(n):
        want[harness.code_for(i)] = want.get(harness.code_for(i), 0) + 1
    # StateDirectory=maillog_exporter, StateDirectoryMode=0750, as systemd
    # would make it before the first start.
    os.mkdir(STATE_DIR, 0o750)
    os.chown(STATE_DIR, pw.pw_uid, pw.pw_gid)

    port = harness.free_port()
    addr = "127.0.0.1:%d" % port
    argv = service_argv(log, addr)
    setpriv = ["setpriv", "--reuid=" + USER, "--regid=" + USER, "--init-groups", "--"]

    # Without group adm the same user cannot read the log: adm is what
    # gives access.
    p = sh(*setpriv[:3], "--clear-groups", "--", BIN, "--once", "--maillog.path=" + log,
           check=False)
    assert p.returncode != 0 and "ermission denied" in p.stderr, (p.returncode, p.stderr)

    errf = open(os.path.join(state["tmp"], "daemon.err"), "w+")
    # setpriv execs the exporter: the PID is the exporter's own.
    proc = subprocess.Popen(setpriv + argv, cwd=STATE_DIR, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=errf,
                            preexec_fn=lambda: os.umask(0o077))
    state["proc"] = proc
    try:
        deadline = time.monotonic() + 30
        metrics = {}
        while True:
            assert proc.poll() is None, "exited %s: %s" % (proc.returncode, read(errf.name))
            try:
                with urllib.request.urlopen("http://%s/metrics" % addr, timeout=5) as r:
                    metrics = harness.parse_metrics(r.read().decode())
                if harness.status_counts(metrics, mta="postfix") == want:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (harness.status_counts(metrics), want,
                                                 read(errf.name))
            time.sleep(0.1)
        with open("/proc/%d/status" % proc.pid) as f:
            status = f.read()
        assert os.readlink("/proc/%d/exe" % proc.pid) == BIN
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
        assert set(uids) == {str(pw.pw_uid)}, uids
        assert str(adm) in groups, groups
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        state.pop("proc")
    errf.close()
    assert rc == 0, (rc, read(errf.name))
    # SIGTERM writes the state file, as the user, in the state directory.
    st = os.stat(os.path.join(STATE_DIR, "state"))
    assert st.st_uid == pw.pw_uid and st.st_mode & 0o077 == 0, st


def test_reinstall():
    """Installing over itself (as an upgrade does) keeps the admin's edit of
    the conffile, the user and its uid, and the state: postinst runs twice."""
    assert pkg_status() == "installed", pkg_status()
    with open(DEFAULT, "a") as f:
        f.write(EDIT)
    uid = pwd.getpwnam(USER).pw_uid
    apt_get("install", "--reinstall", "--no-install-recommends", state["deb"])
    assert pkg_status() == "installed", pkg_status()
    assert read(DEFAULT).decode().endswith(EDIT), read(DEFAULT)
    assert pwd.getpwnam(USER).pw_uid == uid
    assert USER in grp.getgrnam("adm").gr_mem
    assert os.path.exists(os.path.join(STATE_DIR, "state"))
    assert os.path.islink(WANTS) and not exporter_pids()
    state["edited"] = True


EDIT = '# ARGS="--web.listen-address=127.0.0.1:9745"   (an admin\'s edit)\n'


def test_remove():
    assert pkg_status() == "installed", pkg_status()
    apt_get("remove", PKG)
    assert pkg_status() == "config-files", pkg_status()
    for gone in (BIN, UNIT, SHARE, DOC, "/usr/share/man/man1/maillog_exporter.1.gz"):
        assert not os.path.lexists(gone), gone
    orig = read(os.path.join(ROOT, "deploy", "maillog_exporter.default"))
    assert read(DEFAULT) == orig + (EDIT.encode() if state.get("edited") else b"")
    assert os.path.exists(os.path.join(STATE_DIR, "state"))
    pwd.getpwnam(USER)


def test_purge():
    assert pkg_status() == "config-files", pkg_status()
    apt_get("purge", PKG)
    assert pkg_status() == "not-installed", pkg_status()
    for gone in (DEFAULT, STATE_DIR, WANTS):
        assert not os.path.lexists(gone), gone
    # Debian keeps system users on purge; so does this package.
    pwd.getpwnam(USER)
    state.pop("installed")


def wait_gone(pid):
    """Until `pid` has exited (gone, or a zombie nobody reaped yet)."""
    while True:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.2)


def undo():
    """Put the machine back as the test found it."""
    if "apt_pid" in state:
        # An apt-get the test started is still at work in its own session:
        # purging before it ends could leave its install behind.
        wait_gone(state["apt_pid"])
    if state.get("installed"):
        # apt-get waits for a busy dpkg lock; plain dpkg if apt cannot (a
        # half-installed package).
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for argv in (["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "purge", PKG],
                     ["dpkg", "--purge", PKG]):
            p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
            if pkg_status() == "not-installed":
                break
            print("cleanup: %s failed: %s" % (" ".join(argv), p.stderr[-500:]))
        print("cleanup: purged %s (status now %s)" % (PKG, pkg_status()))
    if state.get("ever_installed") and not state["user_existed"]:
        # The package made the user (and preflight found no state
        # directory): both are the test's to remove.
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        for db, tool in ((pwd.getpwnam, "userdel"), (grp.getgrnam, "groupdel")):
            try:
                db(USER)
            except KeyError:
                continue
            subprocess.run([tool, USER], capture_output=True, timeout=60)
    if state.get("policy_created"):
        os.unlink(POLICY)
    for pid in exporter_pids():
        print("cleanup: a %s (PID %d) was left running; killed" % (BIN, pid))
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(state["tmp"], ignore_errors=True)


def cleanup():
    """undo() in a child in its own session, waited for. On a meson
    timeout (SIGTERM to the test's process group, SIGKILL half a second
    later) the child is out of reach and finishes the purge; its output is
    then left in its log."""
    proc = state.get("proc")
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    fd, log = tempfile.mkstemp(prefix="test_deb-cleanup.", suffix=".log")
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 0
        try:
            undo()
        except BaseException:  # noqa: BLE001 - report it in the log, exit non-zero
            import traceback
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(fd)
    try:
        _, status = os.waitpid(pid, 0)
    except Terminated:
        print("SIGTERM: cleanup goes on in the background (PID %d), log in %s" % (pid, log))
        raise
    with open(log) as f:
        print(f.read(), end="")
    os.unlink(log)
    assert status == 0, "cleanup failed (exit status %d)" % status


state["tmp"] = tempfile.mkdtemp(prefix="test_deb.")
t_start = time.monotonic()
try:
    cases.run(test_preflight)
    if "user_existed" in state:
        for fn in (test_changelog_version, test_build, test_lintian, test_install, test_unit,
                   test_run_as_user, test_reinstall, test_remove, test_purge):
            cases.run(fn)
finally:
    try:
        cleanup()
    except AssertionError as e:
        cases.failed += 1
        print("FAIL cleanup: %s" % e)
print("  wall time: %.1f s" % (time.monotonic() - t_start))
cases.finish()
