#!/bin/sh
# Run one libFuzzer harness briefly: replay the seed corpus, then fuzz.
#   run_harness.sh HARNESS SEED_DIR [SECONDS]
# New inputs go to a scratch directory, never into the repository's seeds;
# a crash leaves its input next to the scratch directory and fails the test.
set -eu
harness=$1
seeds=$2
seconds=${3:-${FUZZ_SECONDS:-10}}
[ -d "$seeds" ] || { echo "run_harness.sh: no seed corpus $seeds" >&2; exit 1; }
work=${TMPDIR:-/tmp}/fuzz-$(basename "$harness").$$
mkdir -p "$work/new"
trap 'rm -rf "$work/new"' EXIT
echo "fuzzing $harness for ${seconds}s from $seeds; crash inputs go to $work/"
# libFuzzer exits 77 on a crash by default, which meson reads as "skipped":
# a crash must fail the test, so every error exit code is 1.
"$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/new" "$seeds"
