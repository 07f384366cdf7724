"""Queue sizes: the real binary against a fake Postfix showq server that
speaks showq's wire format (Postfix 3.x src/showq/showq.c through
attr_print0: "name\\0value\\0" attributes, a "\\0" after each record, an
empty record at the end), including one that hangs; the queue-directory
fallback; a fake exim for -bpc next to a spool with a frozen -H file; and
the flags' errors.
"""
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NOW = int(time.time())


def attrs(*pairs):
    return b"".join(n.encode() + b"\0" + v.encode() + b"\0" for n, v in pairs)


def listing(messages):
    """The bytes showq sends for [(queue, id, age_seconds, size, nrcpt)]."""
    out = attrs(("protocol", "mail_queue_list_protocol")) + b"\0"
    for queue, qid, age, size, nrcpt in messages:
        out += attrs(("queue_name", queue), ("queue_id", qid),
                     ("time", str(int(time.time()) - age)), ("size", str(size)),
                     ("forced_expire", "0"), ("sender", "sender@client.test"))
        for i in range(nrcpt):
            out += attrs(("recipient", "r%d@sink.test" % i),
                         ("reason", "host sink.test[127.0.0.1] said: 451 4.3.0 try later"))
        out += b"\0"
    return out + b"\0"


QUEUE = [("deferred", "4VkQ2B0Hc2z9sWt", 7200, 5000, 2),
         ("deferred", "4VkQ2B0Hc3z9sWv", 30, 500, 1),
         ("hold", "A1B2C3D4E5", 100000, 2000000, 1)]


class FakeShowq:
    """A unix-socket server; mode "good" answers with QUEUE, "slow" accepts
    and says nothing for 20 s."""

    def __init__(self, path):
        self.path = path
        self.mode = "good"
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.stopping = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.answer, args=(conn, self.mode), daemon=True).start()

    def answer(self, conn, mode):
        with conn:
            try:
                if mode == "slow":
                    time.sleep(20)
                conn.sendall(listing(QUEUE))
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.sock.close()


def v(m, name, **labels):
    return harness.value(m, name, **labels)


def test_showq_and_hang():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        server = FakeShowq(os.path.join(d, "showq"))
        with harness.Daemon("--maillog.path=" + log, "--queue.interval=1",
                            "--queue.mta=postfix",
                            "--postfix.showq-path=" + server.path) as dm:
            m = dm.wait_for(lambda m: v(m, "maillog_queue_collect_success", mta="postfix",
                                        method="showq") == 1, timeout=10)
            assert v(m, "maillog_queue_messages", mta="postfix", queue="deferred") == 2, m
            assert v(m, "maillog_queue_messages", mta="postfix", queue="hold") == 1
            for q in ("incoming", "active", "maildrop"):
                assert v(m, "maillog_queue_messages", mta="postfix", queue=q) == 0, q
            assert v(m, "maillog_queue_message_size_bytes_count", mta="postfix",
                     queue="deferred") == 2
            assert v(m, "maillog_queue_message_size_bytes_bucket", mta="postfix",
                     queue="deferred", le="1024") == 1
            assert v(m, "maillog_queue_message_age_seconds_bucket", mta="postfix",
                     queue="hold", le="86400") == 0
            assert v(m, "maillog_queue_message_age_seconds_bucket", mta="postfix",
                     queue="hold", le="172800") == 1
            assert v(m, "maillog_queue_collect_success", mta="postfix",
                     method="spool") is None
            good_ts = v(m, "maillog_queue_collect_timestamp_seconds", mta="postfix")
            assert abs(good_ts - time.time()) < 5, good_ts
            # The status page shows the same snapshot.
            status, _, body = dm.get("/")
            page = body.decode()
            assert status == 200, status
            assert 'id="queue-postfix-deferred">2<' in page, page[-3000:]
            assert 'id="queue-postfix-hold">1<' in page
            assert "postfix: counted " in page and "the last attempt failed" not in page

            # showq hangs: scrapes stay fast, success goes 0, values stay.
            server.mode = "slow"
            time.sleep(1.5)
            slowest, deadline = 0, time.monotonic() + 25
            while True:
                t0 = time.monotonic()
                m = dm.metrics()
                slowest = max(slowest, time.monotonic() - t0)
                if v(m, "maillog_queue_collect_success", mta="postfix", method="showq") == 0:
                    break
                assert time.monotonic() < deadline, "success never went 0"
                time.sleep(0.2)
            assert slowest < 1, "a scrape took %.2fs while showq hung" % slowest
            assert v(m, "maillog_queue_messages", mta="postfix", queue="deferred") == 2
            stale_ts = v(m, "maillog_queue_collect_timestamp_seconds", mta="postfix")
            assert stale_ts >= good_ts and time.time() - stale_ts >= 9, (good_ts, stale_ts)
            assert "no complete listing within 10000 ms" in dm.stderr(), dm.stderr()
            page = dm.get("/")[2].decode()
            assert 'id="queue-postfix-deferred">2<' in page
            assert "the last attempt failed (see the exporter&#39;s log)" in page or \
                "the last attempt failed (see the exporter's log)" in page, page[-3000:]

            # SIGTERM while the next read hangs: no waiting for showq.
            time.sleep(1.5)
            t0 = time.monotonic()
            rc = dm.stop()
            took = time.monotonic() - t0
            assert rc == 0, (rc, dm.stderr())
            assert took < 3, "shutdown took %.1fs with showq hanging" % took
        server.stop()


def test_spool_fallback():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        spool = os.path.join(d, "postfix")
        for q in ("incoming", "active", "deferred", "hold", "maildrop"):
            os.makedirs(os.path.join(spool, q))
        for rel in ("deferred/A/4VkQ2B0Hc2z9sWt", "deferred/B/4VkQ2B0Hc3z9sWv",
                    "deferred/C/B1C2D3E4F5", "hold/0/A1B2C3D4E5", "maildrop/1234-5678"):
            os.makedirs(os.path.dirname(os.path.join(spool, rel)), exist_ok=True)
            open(os.path.join(spool, rel), "w").close()
        os.mkfifo(os.path.join(spool, "deferred", "not-a-message"))
        with harness.Daemon("--maillog.path=" + log, "--queue.interval=1",
                            "--queue.mta=auto", "--exim.spool-dir=" + d + "/none",
                            "--postfix.showq-path=" + d + "/public/showq",
                            "--postfix.queue-dir=" + spool) as dm:
            m = dm.wait_for(lambda m: v(m, "maillog_queue_collect_success", mta="postfix",
                                        method="spool") == 1, timeout=10)
            assert v(m, "maillog_queue_collect_success", mta="postfix", method="showq") == 0
            want = {"deferred": 3, "hold": 1, "maildrop": 1, "incoming": 0, "active": 0}
            for q, n in want.items():
                assert v(m, "maillog_queue_messages", mta="postfix", queue=q) == n, (q, m)
            assert not [k for k in m if k[0].startswith("maillog_queue_message_size")]
            assert not [k for k in m if k[0].startswith("maillog_queue_")
                        and dict(k[1]).get("mta") == "exim"], "exim collected"
            assert "No such file or directory" in dm.stderr()


H_FILE = ("1rJ4cX-000Bd9-2V-H\nDebian-exim 101 101\n<>\n1700000000 0\n"
          "-ident Debian-exim\n-received_protocol local\n-body_linecount 3\n"
          "%s-localerror\nXX\n1\nsender@client.test\n\n"
          "155P Received: from Debian-exim by mail.e2e.test with local (Exim 4.96)\n")


def test_exim():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        inp = os.path.join(d, "exim4", "input", "2")
        os.makedirs(inp)
        with open(os.path.join(inp, "1rJ4cX-000Bd9-2V-H"), "w") as f:
            f.write(H_FILE % "-frozen 1700000100\n")
        with open(os.path.join(inp, "1rJ4cY-000BdA-3V-H"), "w") as f:
            f.write(H_FILE % "")
        exim = os.path.join(d, "fake-exim")
        argfile = os.path.join(d, "args")
        with open(exim, "w") as f:
            f.write("#!/bin/sh\necho \"$@\" > '%s'\necho 7\n" % argfile)
        os.chmod(exim, 0o755)
        with harness.Daemon("--maillog.path=" + log, "--queue.interval=1",
                            "--queue.mta=exim", "--exim.binary=" + exim,
                            "--exim.spool-dir=" + os.path.join(d, "exim4")) as dm:
            m = dm.wait_for(lambda m: v(m, "maillog_queue_collect_success", mta="exim",
                                        method="exim-bpc") == 1, timeout=10)
            assert v(m, "maillog_queue_messages", mta="exim", queue="input") == 7, m
            assert v(m, "maillog_queue_frozen_messages", mta="exim") == 1, dm.stderr()
            assert v(m, "maillog_queue_collect_success", mta="exim", method="spool") == 1
            assert open(argfile).read() == "-bpc\n", open(argfile).read()
            # exim refuses (not an admin user): the spool's count takes over
            with open(exim, "w") as f:
                f.write("#!/bin/sh\necho 'exim: permission denied' >&2\nexit 1\n")
            m = dm.wait_for(lambda m: v(m, "maillog_queue_collect_success", mta="exim",
                                        method="exim-bpc") == 0, timeout=10)
            assert v(m, "maillog_queue_messages", mta="exim", queue="input") == 2, m
            assert "exit status 1: exim: permission denied" in dm.stderr(), dm.stderr()
    # not installed: never run, and no exim-bpc series
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        os.makedirs(os.path.join(d, "input"))
        with harness.Daemon("--maillog.path=" + log, "--queue.interval=1",
                            "--exim.binary=" + d + "/no-exim",
                            "--postfix.showq-path=" + d + "/none",
                            "--postfix.queue-dir=" + d + "/none",
                            "--exim.spool-dir=" + d) as dm:
            m = dm.wait_for(lambda m: v(m, "maillog_queue_collect_success", mta="exim",
                                        method="spool") == 1, timeout=10)
            assert v(m, "maillog_queue_messages", mta="exim", queue="input") == 0
            assert v(m, "maillog_queue_collect_success", mta="exim", method="exim-bpc") is None
            assert v(m, "maillog_queue_collect_success", mta="postfix", method="showq") is None


def test_off():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "mail.log")
        open(log, "w").close()
        server = FakeShowq(os.path.join(d, "showq"))
        for flag in ("--queue.interval=0", "--queue.mta=none"):
            with harness.Daemon("--maillog.path=" + log, flag,
                                "--postfix.showq-path=" + server.path) as dm:
                time.sleep(0.5)
                status, _, body = dm.get("/metrics")
                text = body.decode()
                assert "# TYPE maillog_queue_messages gauge" in text
                assert "\nmaillog_queue_" not in text, flag
        assert server.connections == 0
        server.stop()


def test_bad_flags():
    for args, flag in ((["--queue.interval=abc"], "--queue.interval"),
                       (["--queue.interval=-1"], "--queue.interval"),
                       (["--queue.interval=86401"], "--queue.interval"),
                       (["--queue.mta=qmail"], "--queue.mta"),
                       (["--postfix.showq-path="], "--postfix.showq-path"),
                       (["--postfix.showq-path=/" + "x" * 200], "--postfix.showq-path"),
                       (["--postfix.queue-dir="], "--postfix.queue-dir"),
                       (["--exim.binary="], "--exim.binary"),
                       (["--exim.spool-dir"], "--exim.spool-dir")):
        rc, out, err = harness.run(*args)
        assert rc == 2, (args, rc, err)
        assert err.count("\n") == 1 and flag in err, (args, err)


if __name__ == "__main__":
    harness.require_binary()
    cases = harness.Cases()
    for fn in (test_bad_flags, test_spool_fallback, test_exim, test_off, test_showq_and_hang):
        cases.run(fn)
    cases.finish()
