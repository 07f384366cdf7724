"""--web.config.file against the real daemon: HTTPS (and plain HTTP refused
on the TLS port), TLS version limits, every client_auth_type including
RequireAndVerifyClientCert refusing a missing and a wrongly signed
certificate, basic auth (401, 200, the lockout after failures, the cache
making repeated scrapes cheap), extra headers, bad files refused at start
with FILE:LINE, and SIGHUP reloads of users, of a bad file and of TLS.

A throwaway CA, server, client and rogue (self-signed) certificates are
made with openssl; bcrypt hashes with libcrypt through ctypes."""
import ctypes
import http.client
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import tempfile
import time

import harness

harness.require_binary()
if shutil.which("openssl") is None:
    print("SKIP: openssl not installed (Debian package openssl)")
    raise SystemExit(harness.SKIP)

cases = harness.Cases()
TMP = tempfile.mkdtemp(prefix="webconfig.")
LOG = os.path.join(TMP, "mail.log")
open(LOG, "w").close()


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, cwd=TMP)


def make_certs():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt",
       "-subj", "/CN=maillog test CA", "-days", "2")
    with open(os.path.join(TMP, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "prometheus")):
        sh("openssl", "req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
           "-subj", "/CN=" + cn)
        extra = ["-extfile", "san.ext"] if name == "server" else []
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey",
           "ca.key", "-CAcreateserial", "-out", name + ".crt", "-days", "2", *extra)
    # Same subject as the good client, but signed by nobody we trust.
    sh("openssl", "req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.crt",
       "-subj", "/CN=prometheus", "-days", "2")


_crypt = ctypes.CDLL("libcrypt.so.1")
_crypt.crypt_gensalt.restype = ctypes.c_char_p
_crypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
                                 ctypes.c_int]
_crypt.crypt.restype = ctypes.c_char_p
_crypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def bcrypt(password, cost=10):
    salt = _crypt.crypt_gensalt(b"$2b$", cost, None, 0)
    return _crypt.crypt(password.encode(), salt).decode()


make_certs()
HASH_SECRET = bcrypt("s3cret")
HASH_OTHER = bcrypt("0ther")
TLS = ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")


def write_config(text, name="web.yml"):
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def tls_context(cert=None, tls_min=None, tls_max=None):
    ctx = ssl.create_default_context(cafile=os.path.join(TMP, "ca.crt"))
    if cert:
        ctx.load_cert_chain(os.path.join(TMP, cert + ".crt"), os.path.join(TMP, cert + ".key"))
    if tls_min:
        ctx.minimum_version = tls_min
    if tls_max:
        ctx.maximum_version = tls_max
    return ctx


def auth_header(user, password):
    import base64
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Daemon(harness.Daemon):
    """The daemon with a web config; get() speaks HTTPS when tls is set and
    sends the client certificate and credentials given here, so the
    readiness check passes the guards too."""

    def __init__(self, config, *args, tls=True, cert=None, auth=None):
        self.tls, self.cert, self.auth = tls, cert, auth
        super().__init__("--web.config.file=" + config, "--maillog.path=" + LOG, *args)

    def get(self, path, method="GET", headers=None, cert="default", auth="default",
            tls_min=None, tls_max=None):
        hdrs = dict(headers or {})
        auth = self.auth if auth == "default" else auth
        if auth:
            hdrs["Authorization"] = auth_header(*auth)
        if self.tls:
            ctx = tls_context(self.cert if cert == "default" else cert, tls_min, tls_max)
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path, headers=hdrs)
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None:
            err = self.stderr()
            assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
            assert rc == 0, "daemon exited %s: %s" % (rc, err[-1000:])


def test_https_and_plain_refused():
    with Daemon(write_config(TLS)) as dm:
        status, headers, body = dm.get("/metrics")
        assert status == 200, status
        assert b"maillog_lines_read_total" in body
        # Plain HTTP to the TLS port gets no HTTP answer.
        with socket.create_connection(("127.0.0.1", dm.port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"HTTP/"), data[:100]
        assert "(https)" in dm.stderr(), dm.stderr()


def test_tls_versions():
    with Daemon(write_config(TLS + "  max_version: TLS12\n")) as dm:
        assert dm.get("/metrics", tls_max=ssl.TLSVersion.TLSv1_2)[0] == 200
        try:
            dm.get("/metrics", tls_min=ssl.TLSVersion.TLSv1_3)
            raise AssertionError("TLS 1.3 accepted with max_version TLS12")
        except ssl.SSLError:
            pass
    with Daemon(write_config(TLS + "  min_version: TLS13\n")) as dm:
        assert dm.get("/metrics", tls_min=ssl.TLSVersion.TLSv1_3)[0] == 200
        try:
            dm.get("/metrics", tls_max=ssl.TLSVersion.TLSv1_2)
            raise AssertionError("TLS 1.2 accepted with min_version TLS13")
        except ssl.SSLError:
            pass


def expect(dm, cert, want):
    try:
        status, _, body = dm.get("/metrics", cert=cert)
    except (ssl.SSLError, ConnectionError) as e:
        status, body = "handshake failed (%s)" % e, b""
    assert status == want, "cert %s: got %s %r, want %s" % (cert, status, body[:100], want)


def test_client_cert_modes():
    ca = "  client_ca_file: ca.crt\n"
    table = [
        ("RequireAndVerifyClientCert", ca, {None: 403, "rogue": 403, "client": 200}),
        ("VerifyClientCertIfGiven", ca, {None: 200, "rogue": 403, "client": 200}),
        ("RequireAnyClientCert", "", {None: 403, "rogue": 200, "client": 200}),
        ("RequestClientCert", "", {None: 200, "rogue": 200, "client": 200}),
        ("NoClientCert", "", {None: 200, "rogue": 200}),
    ]
    for mode, extra, want in table:
        cfg = write_config(TLS + "  client_auth_type: %s\n" % mode + extra)
        with Daemon(cfg, cert="client") as dm:
            for cert, status in want.items():
                expect(dm, cert, status)
            if want[None] == 403:
                _, _, body = dm.get("/healthz", cert=None)
                assert b"client certificate is required" in body, body
                assert "client certificate is required" in dm.stderr()
            if want.get("rogue") == 403:
                assert "not trusted" in dm.stderr(), dm.stderr()


def test_basic_auth():
    cfg = write_config("basic_auth_users:\n  prom: %s\n  other: %s\n" % (HASH_SECRET, HASH_OTHER))
    with Daemon(cfg, tls=False, auth=("prom", "s3cret")) as dm:
        status, headers, _ = dm.get("/metrics", auth=None)
        assert status == 401, status
        assert headers["WWW-Authenticate"] == 'Basic realm="maillog_exporter"', headers
        assert dm.get("/healthz", auth=None)[0] == 401
        assert dm.get("/metrics")[0] == 200
        assert dm.get("/metrics", auth=("other", "0ther"))[0] == 200
        assert dm.get("/metrics", auth=("prom", "0ther"))[0] == 401
        assert dm.get("/metrics", auth=("nobody", "s3cret"))[0] == 401
        assert dm.get("/nope")[0] == 404


def test_wrong_password_throttled():
    cfg = write_config("basic_auth_users:\n  prom: %s\n" % HASH_SECRET)
    with Daemon(cfg, tls=False, auth=("prom", "s3cret")) as dm:
        got = [dm.get("/metrics", auth=("prom", "guess%d" % i))[0] for i in range(5)]
        assert got == [401] * 5, got
        t0 = time.monotonic()
        status, headers, _ = dm.get("/metrics", auth=("prom", "guess"))
        locked_s = time.monotonic() - t0
        assert status == 429, status
        assert 0 < int(headers["Retry-After"]) <= 30, headers["Retry-After"]
        # Even the right password is not checked while locked out, unless it
        # is cached: the readiness check logged in before the guessing.
        assert dm.get("/metrics")[0] == 200
        # Another address would still be checked: the lockout is per
        # address (tests/test_auth.c covers that; here all is loopback).
        print("     lockout answer in %.1f ms" % (locked_s * 1e3))


def timed_get(dm, auth):
    t0 = time.monotonic()
    status = dm.get("/healthz", auth=auth)[0]
    return status, time.monotonic() - t0


def test_cache_makes_scrapes_fast():
    # Cost 12: about 4x the usual 10, so the difference is well above the
    # noise of a loaded machine.
    cfg = write_config("basic_auth_users:\n  prom: %s\n  x: %s\n"
                       % (bcrypt("pw", 12), bcrypt("pw", 12)))
    with Daemon(cfg, tls=False, auth=("x", "pw")) as dm:
        status, first = timed_get(dm, ("prom", "pw"))
        assert status == 200
        cached = []
        for _ in range(20):
            status, t = timed_get(dm, ("prom", "pw"))
            assert status == 200
            cached.append(t)
        status, wrong = timed_get(dm, ("prom", "nope"))
        assert status == 401
        med = statistics.median(cached)
        print("     uncached %.1f ms, wrong password %.1f ms, cached median %.2f ms"
              % (first * 1e3, wrong * 1e3, med * 1e3))
        assert med < min(first, wrong) / 4, (first, wrong, med)


def test_custom_headers():
    cfg = write_config("http_server_config:\n  headers:\n"
                       "    Strict-Transport-Security: max-age=31536000\n"
                       "    X-Frame-Options: deny\n")
    with Daemon(cfg, tls=False) as dm:
        for path, code in (("/metrics", 200), ("/healthz", 200), ("/", 200), ("/nope", 404)):
            status, headers, _ = dm.get(path)
            assert status == code, (path, status)
            assert headers["Strict-Transport-Security"] == "max-age=31536000", (path, headers)
            assert headers["X-Frame-Options"] == "deny", (path, headers)
            assert headers.get_all("Content-Type") and len(headers.get_all("Content-Type")) == 1
        # The status page keeps its own policy beside the configured headers.
        _, headers, _ = dm.get("/")
        assert headers["Content-Security-Policy"].startswith("default-src 'none'"), headers


def test_bad_files_refused():
    bad = [
        ("basic_auth_users:\n  prom: plaintext\n",
         ":2: basic_auth_users: user \"prom\": the password must be a bcrypt hash"),
        ("http_server_config:\n  headers:\n    Content-Type: text/html\n",
         ":3: headers: Content-Type is set by the server and cannot be overridden"),
        (TLS.replace("server.key", "missing.key"),
         ":3: key_file: cannot open %s/missing.key: No such file or directory" % TMP),
        (TLS.replace("server.key", "client.key"), ":2: cert_file %s/server.crt with key_file"
         % TMP),
        (TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
         ":4: client_auth_type RequireAndVerifyClientCert needs client_ca_file"),
        ("tls_server_config:\n  min_version: TLS11\n", ":2: min_version: TLS11 is not supported"),
        ("tls_server_config: [\n", ":2: YAML syntax"),
    ]
    for i, (text, want) in enumerate(bad):
        p = write_config(text, "bad%d.yml" % i)
        rc, _, err = harness.run("--web.config.file=" + p, "--maillog.path=" + LOG,
                                 "--web.listen-address=127.0.0.1:%d" % harness.free_port())
        assert rc == 1, (rc, err)
        assert "maillog_exporter: --web.config.file: " + p + want in err, (want, err)
        rc, _, err = harness.run("--web.config.file=" + p, "--check-config")
        assert rc == 1 and p + want in err, (rc, err)
    rc, out, err = harness.run("--web.config.file=" + write_config(TLS, "good.yml"),
                               "--check-config")
    assert rc == 0 and "good.yml: web configuration OK" in out, (rc, out, err)


def test_sighup_reload_users():
    cfg = write_config("basic_auth_users:\n  prom: %s\n" % HASH_SECRET, "reload.yml")
    with Daemon(cfg, tls=False, auth=("prom", "s3cret")) as dm:
        assert dm.get("/metrics")[0] == 200
        write_config("basic_auth_users:\n  other: %s\n" % HASH_OTHER, "reload.yml")
        dm.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while dm.get("/metrics", auth=("other", "0ther"))[0] != 200:
            assert time.monotonic() < deadline, dm.stderr()
            time.sleep(0.1)
        # The cached login of the removed user is gone with it.
        assert dm.get("/metrics")[0] == 401
        # A bad file is refused and the running users carry on.
        write_config("basic_auth_users:\n  other: not-a-hash\n", "reload.yml")
        dm.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "web config reload refused" not in dm.stderr():
            assert time.monotonic() < deadline, dm.stderr()
            time.sleep(0.1)
        assert "reload.yml:2: basic_auth_users: user" in dm.stderr(), dm.stderr()
        assert dm.get("/metrics", auth=("other", "0ther"))[0] == 200


def test_sighup_switches_to_tls():
    cfg = write_config("", "switch.yml")
    with Daemon(cfg, tls=False) as dm:
        assert dm.get("/metrics")[0] == 200
        write_config(TLS, "switch.yml")
        dm.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reloaded %s (https)" % cfg not in dm.stderr():
            assert time.monotonic() < deadline, dm.stderr()
            time.sleep(0.1)
        dm.tls = True
        assert dm.get("/metrics")[0] == 200
        # ... and back, on the same socket.
        write_config("", "switch.yml")
        dm.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reloaded %s (http)" % cfg not in dm.stderr():
            assert time.monotonic() < deadline, dm.stderr()
            time.sleep(0.1)
        dm.tls = False
        assert dm.get("/metrics")[0] == 200


try:
    for t in (test_https_and_plain_refused, test_tls_versions, test_client_cert_modes,
              test_basic_auth, test_wrong_password_throttled, test_cache_makes_scrapes_fast,
              test_custom_headers, test_bad_files_refused, test_sighup_reload_users,
              test_sighup_switches_to_tls):
        cases.run(t)
finally:
    shutil.rmtree(TMP, ignore_errors=True)
cases.finish()
