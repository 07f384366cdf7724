#!/usr/bin/env bash
# build-aux/pgo-build.sh BUILDDIR [MESON-SETUP-OPTIONS...]
#
# A release build of maillog_exporter optimised with the profile of a
# training run (profile-guided optimisation, GCC): 4-10 % less CPU per
# line than the plain build, depending on the MTA (docs/hacking.md,
# "Round 7"). deploy/quickstart.sh and debian/rules build this way.
#
#   1. meson setup BUILDDIR --buildtype=release -Db_lto=true
#      -Db_pgo=generate OPTIONS... and compile: every function counts its
#      branches and calls;
#   2. build-aux/pgo-train.sh runs that binary over generated logs;
#   3. meson configure -Db_pgo=use and compile again: GCC lays out, inlines
#      and specialises the code by those counts, across files (link-time
#      optimisation: alone it gained nothing, with the profile about 3 %
#      more, since the hot calls it can then inline cross files: the
#      registry into each parser, the parsers into mp_find).
#
# The result behaves exactly as the plain build (tests/deploy/test_pgo.py
# compares their expositions). A plain build needs none of this:
# meson setup BUILDDIR --buildtype=release.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILDDIR [meson setup options...]" >&2
  exit 2
fi
build=$1
shift
src=$(cd "$(dirname "$0")/.." && pwd)

# meson's b_pgo drives GCC's -fprofile-generate/-use; clang needs an
# llvm-profdata merge step in between that this script does not do.
cc=${CC:-cc}
if ! "$cc" --version 2>/dev/null | grep -q -E '^(gcc|cc)'; then
  echo "pgo-build.sh: needs GCC (CC=$cc is not); build without a profile instead:" >&2
  echo "  meson setup $build --buildtype=release" >&2
  exit 1
fi

# BUILDDIR is replaced, so it must be a build directory already, or empty,
# or not there: never a typo for the source tree or a home directory.
if [ -e "$build" ] && [ ! -d "$build/meson-private" ] && [ -n "$(ls -A "$build" 2>/dev/null)" ]; then
  echo "pgo-build.sh: $build exists and is not a meson build directory; not replacing it" >&2
  exit 1
fi
rm -rf "$build"
meson setup "$build" "$src" --buildtype=release -Db_lto=true -Db_pgo=generate "$@" >/dev/null
meson compile -C "$build"
"$src/build-aux/pgo-train.sh" "$build"
meson configure "$build" -Db_pgo=use >/dev/null
meson compile -C "$build"
