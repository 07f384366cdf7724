"""--run-as: started as root, the daemon binds, opens the logs, then becomes
the user with its groups, for good. Needs root (exit 77 otherwise)."""
import os
import pwd
import tempfile
import time

import harness
from harness import Cases, Daemon, postfix_line


def ids(pid):
    """{'Uid': [...], 'Gid': [...], 'Groups': [...]} from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = [int(x) for x in v.split()]
    return out


def test_drops_to_user_and_its_groups():
    nobody = pwd.getpwnam("nobody")
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        log = os.path.join(d, "mail.log")
        with open(log, "w") as f:
            f.write(postfix_line(0) + "\n")
        os.chmod(log, 0o644)
        with Daemon("--maillog.path=" + log, "--run-as=nobody") as dmn:
            # The HTTP server answers as soon as it is bound; the drop comes
            # right after, so wait for it rather than race it.
            deadline = time.monotonic() + 10
            while ("switched to user nobody" not in dmn.stderr()
                   and time.monotonic() < deadline):
                time.sleep(0.02)
            st = ids(dmn.proc.pid)
            assert st["Uid"] == [nobody.pw_uid] * 4, st
            assert st["Gid"] == [nobody.pw_gid] * 4, st
            assert 0 not in st["Groups"], st
            assert "switched to user nobody" in dmn.stderr(), dmn.stderr()
            assert "running as root" not in dmn.stderr(), dmn.stderr()
            # Still works after the drop: lines, then a rename rotation whose
            # new file the user can read.
            with open(log, "a") as f:
                f.write(postfix_line(1, "550", "5.1.1") + "\n")
            os.rename(log, log + ".1")
            with open(log, "w") as f:
                f.write(postfix_line(2, "451", "4.3.0") + "\n")
            os.chmod(log, 0o644)
            m = dmn.wait_for(lambda m: len(harness.status_counts(m)) == 2)
            got = harness.status_counts(m)
            assert got == {("550", "5.1.1"): 1, ("451", "4.3.0"): 1}, got
            assert harness.value(m, "process_open_fds") > 0


def test_unknown_user_refused():
    rc, _, err = harness.run("--maillog.path=/dev/null", "--web.listen-address=127.0.0.1:%d"
                             % harness.free_port(), "--run-as=no_such_user_hardening")
    assert rc == 1, (rc, err)
    assert "--run-as: no such user 'no_such_user_hardening'" in err, err


def test_root_user_refused():
    rc, _, err = harness.run("--maillog.path=/dev/null", "--web.listen-address=127.0.0.1:%d"
                             % harness.free_port(), "--run-as=root")
    assert rc == 1, (rc, err)
    assert "has uid 0" in err, err


def test_root_without_run_as_warns():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        with Daemon("--maillog.path=" + log) as dmn:
            time.sleep(0.1)
            assert "running as root" in dmn.stderr(), dmn.stderr()


if __name__ == "__main__":
    harness.require_binary()
    if os.geteuid() != 0:
        print("SKIP: --run-as needs root")
        raise SystemExit(harness.SKIP)
    c = Cases()
    c.run(test_drops_to_user_and_its_groups)
    c.run(test_unknown_user_refused)
    c.run(test_root_user_refused)
    c.run(test_root_without_run_as_warns)
    c.finish()
