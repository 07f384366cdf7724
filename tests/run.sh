#!/usr/bin/env bash
# The whole test suite in one command (README.md, "Test"):
#   sudo bash tests/run.sh
# As root on Debian 12 it first installs every package the build and the
# tests need (without letting any of them start a service). Then it builds
# twice: an optimised build with -Werror (warnings that only show at -O2),
# and an ASan+UBSan build in which the whole suite runs. It ends with one
# line "tests: N passed, N failed, N skipped" and exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  gcc libc6-dev pkg-config meson ninja-build git      # build
  libmicrohttpd-dev libpcre2-dev zlib1g-dev libyaml-dev # the daemon's libraries
  libgnutls28-dev libcrypt-dev                        # --web.config.file: TLS checks, bcrypt
  openssl wrk                                         # TLS test certificates; HTTP load test
  libcmocka-dev python3                               # unit and black-box tests
  prometheus                                          # promtool check metrics
  prometheus-alertmanager                             # the alert path to a webhook (tests/deploy)
  libsystemd-dev systemd                              # sd_notify, --journal; systemd-analyze verify
  systemd-journal-remote                              # --journal tests write real journal files
  swaks m4                                            # e2e: SMTP client, sendmail.cf
  scdoc man-db                                        # the man page: build it, render it with warnings
  build-essential dpkg-dev debhelper lintian          # the Debian package: dpkg-buildpackage, lint
  libglib2.0-0 libjson-c5 libpcre3 libssl3 libcap2 libsystemd0 libnsl2 # e2e: syslog-ng-core's libraries (unpacked, not installed)
  clang libclang-rt-14-dev                            # libFuzzer harnesses (tests/fuzz)
  valgrind                                            # memcheck run of the daemon
  strace                                              # no system call per line (tests/blackbox/test_syscalls.py)
  tzdata                                              # real zones: test_syslog, test_epoch_cache against mktime
  pcre2-utils                                         # benchmark: pcre2grep -c, the single-regex floor
  logrotate rsyslog                                   # real rotation under load; rsyslogd as a writer, the e2e syslog daemon and a --syslog.listen sender
  bsdutils                                            # logger(1): syslog(3)-style datagrams to --syslog.listen=unixgram:
  chromium                                            # the status page in a real browser
)
# deploy/kubernetes/ is validated against kubernetes-models (npm packages the
# test installs into the build tree). Debian's nodejs and npm, unless a node
# with its own npm is already there (NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  # Debian starts a daemon when its package is installed; the tests start
  # their own instances on 127.0.0.1, so forbid that while we install.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created=1
  fi
  # Wait for another apt (unattended upgrades, a second shell) rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >/dev/null
  if [ "$created" = 1 ]; then rm -f "$policy"; fi
}

if [ "$(id -u)" = 0 ]; then
  install_packages
else
  echo "tests/run.sh: not root, so not installing packages; needs: ${PACKAGES[*]}" >&2
fi

werror=false
if [ "${CI:-}" = true ]; then werror=true; fi

echo "== optimised build (release, -O3, werror=$werror)"
rm -rf build-release
meson setup build-release --buildtype=release -Dwerror="$werror" >/dev/null
meson compile -C build-release

echo "== ASan+UBSan build (werror=$werror), whole suite"
rm -rf build-asan
meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
  -Dwerror="$werror" >/dev/null
meson compile -C build-asan
# ASan binaries cannot run under valgrind: test_valgrind.py takes the
# optimised build.
export MAILLOG_EXPORTER_PLAIN="$PWD/build-release/daemon/maillog_exporter"
set +e
meson test -C build-asan --print-errorlogs --num-processes 2
status=$?
set -e

echo "== libFuzzer build (clang, ASan+UBSan): each harness replays its seeds, then fuzzes 10 s"
rm -rf build-fuzz
CC=clang meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true -Dtests=false \
  -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
meson compile -C build-fuzz
set +e
meson test -C build-fuzz --suite fuzz --print-errorlogs
fuzz_status=$?
set -e
if [ "$status" = 0 ]; then status=$fuzz_status; fi

python3 - build-asan/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for line in (l for f in sys.argv[1:] for l in open(f)):
    r = json.loads(line)["result"]
    if r == "OK":
        counts["passed"] += 1
    elif r == "SKIP":
        counts["skipped"] += 1
    else:
        counts["failed"] += 1
print("tests: %(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts)
PY
exit "$status"
