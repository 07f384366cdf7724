#!/usr/bin/env bash
# README.md, "Quick start": on a fresh Debian 12 machine, as root,
#   bash deploy/quickstart.sh
# installs the build dependencies, builds, installs the binary to
# /usr/local/bin, and runs the exporter in the foreground on the system mail
# log as an unprivileged system user in group adm (Debian's mail log is
# root:adm 0640). Extra arguments are passed to the exporter, e.g.
#   bash deploy/quickstart.sh --maillog.path=/var/log/mail.log --web.listen-address=127.0.0.1:9745
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "quickstart.sh: run as root (it installs packages and a system user)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  gcc libc6-dev pkg-config meson ninja-build \
  libmicrohttpd-dev libpcre2-dev zlib1g-dev libyaml-dev libsystemd-dev \
  libgnutls28-dev libcrypt-dev scdoc python3 >/dev/null

# Profile-guided: built, trained on generated logs, built again (4-10 % less
# CPU per line; build-aux/pgo-build.sh says how).
build-aux/pgo-build.sh build-quickstart -Dtests=false
install -m 0755 build-quickstart/daemon/maillog_exporter /usr/local/bin/maillog_exporter
install -D -m 0644 build-quickstart/docs/maillog_exporter.1 \
  /usr/local/share/man/man1/maillog_exporter.1

if ! id maillog_exporter >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --groups adm maillog_exporter
fi

# Where it will listen: the last --web.listen-address given, else :9745
# (every interface), as the exporter itself decides.
listen=":9745"
prev=""
for arg in "$@"; do
  case "$arg" in
    --web.listen-address=*) listen="${arg#*=}" ;;
  esac
  if [ "$prev" = "--web.listen-address" ]; then listen="$arg"; fi
  prev="$arg"
done
host="${listen%:*}"
port="${listen##*:}"
if [ -z "$host" ]; then host="$(hostname -f 2>/dev/null || hostname)"; fi
echo "quickstart.sh: starting /usr/local/bin/maillog_exporter as user maillog_exporter" \
     "(Ctrl-C stops it)"
echo "  status page: http://$host:$port/"
echo "  metrics:     http://$host:$port/metrics"
exec runuser -u maillog_exporter -- /usr/local/bin/maillog_exporter "$@"
