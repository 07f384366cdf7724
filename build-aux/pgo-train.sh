#!/usr/bin/env bash
# build-aux/pgo-train.sh BUILDDIR
#
# The training run of a profile-guided build (build-aux/pgo-build.sh,
# debian/rules): BUILDDIR was set up with -Db_pgo=generate and compiled; this
# runs its instrumented maillog_exporter over generated logs the way users
# run it (--once, then report), so that GCC writes the branch and call counts
# (*.gcda) the -Db_pgo=use build then optimises for.
#
# The logs come from tests/bench/gen_log.py (deterministic, seeded): a busy
# MX's traffic as Postfix, Exim (its own mainlog, and through syslog) and
# Sendmail log it, PGO_TRAIN_LINES lines of each. OpenSMTPD's parser, the
# daemon's tailer and the web server are not trained; meson.build adds
# -fprofile-partial-training to the use build, which keeps code the runs
# never reached optimised for speed as without a profile, instead of for
# size.
#
# Old profiles are deleted first: counts of an earlier source are either
# refused by GCC (coverage mismatch) or silently wrong. Fails, saying why,
# if the binary is missing, a run fails, or no profile was written.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILDDIR (set up with -Db_pgo=generate and compiled)" >&2
  exit 2
fi
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/daemon/maillog_exporter"
lines=${PGO_TRAIN_LINES:-100000}

if [ ! -x "$bin" ]; then
  echo "pgo-train.sh: no $bin: compile $build first" >&2
  exit 1
fi
if ! grep -q -- '-fprofile-generate' "$build/compile_commands.json" 2>/dev/null; then
  echo "pgo-train.sh: $build is not an instrumented build (meson configure $build -Db_pgo=generate)" >&2
  exit 1
fi

find "$build" -name '*.gcda' -delete
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
formats="postfix exim exim-syslog sendmail"
for format in $formats; do
  log="$tmp/$format.log"
  # Seed 101: the repository's benchmarks (tests/bench) measure seed 1,
  # and a build should not be measured on the log it was trained on.
  python3 "$src/tests/bench/gen_log.py" --format "$format" --lines "$lines" --seed 101 > "$log"
  # TZ fixed so that the runs do not depend on the build machine's zone.
  TZ=UTC "$bin" --once --maillog.path="$log" > "$tmp/metrics"
  TZ=UTC "$bin" report "$log" > "$tmp/report"
  if ! grep -q "^maillog_smtp_status_total{mta=\"${format%-syslog}\"" "$tmp/metrics"; then
    echo "pgo-train.sh: the training run counted no $format status line; not a profile to build on" >&2
    exit 1
  fi
done

n=$(find "$build" -name '*.gcda' | wc -l)
if [ "$n" -eq 0 ]; then
  echo "pgo-train.sh: the training run wrote no profile (*.gcda) under $build" >&2
  exit 1
fi
echo "pgo-train.sh: $lines lines of each of ${formats// /, } trained, $n profiles written under $build"
