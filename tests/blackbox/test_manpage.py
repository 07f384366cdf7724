"""maillog_exporter(1) against the binary: every flag that --help (and
`report --help`) prints is defined in the man page, every flag the page
defines or mentions exists, and man(1) renders the page without a warning.

The page is written by hand (docs/maillog_exporter.1.scd) and built by
meson with scdoc; $MAILLOG_MANPAGE names the built page.
"""
import os
import re
import shutil
import subprocess
import tempfile

import harness
from harness import run

harness.require_binary()
cases = harness.Cases()
PAGE = os.environ.get("MAILLOG_MANPAGE", "")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*)")
# A definition in the rendered page: a term line at the first indent.
TERM = re.compile(r"^ {7}(--[a-z][a-z0-9.-]*)")


def render(path):
    """man -l PATH as plain text, wide enough that no term is folded; and
    what man and groff said on stderr with every warning turned on."""
    env = dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stderr)
    text = re.sub(r".\x08", "", p.stdout)   # overstrike bold/underline
    return text, p.stderr


def sections(text):
    """{section heading: [lines]} of a rendered page."""
    out, cur = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            cur = line.strip()
            out.setdefault(cur, [])
        elif cur is not None:
            out[cur].append(line)
    return out


def help_flags(*args):
    """The flags a --help text names; the main --help's usage line for
    the report subcommand names report's flags, which are checked apart."""
    rc, out, err = run(*args)
    assert rc == 0, (args, rc, err)
    if args[0] != "report":
        out = "\n".join(line for line in out.splitlines()
                        if "maillog_exporter report" not in line)
    return set(FLAG.findall(out))


def page_text():
    assert PAGE and os.path.exists(PAGE), (
        "no man page was built (MAILLOG_MANPAGE=%r): install scdoc and run meson setup "
        "again" % PAGE)
    return render(PAGE)


def test_every_help_flag_is_defined_in_the_page():
    text, _ = page_text()
    secs = sections(text)
    defined = {m.group(1) for name, lines in secs.items() if name != "REPORT"
               for line in lines for m in [TERM.match(line)] if m}
    flags = help_flags("--help")
    assert len(flags) > 30, sorted(flags)
    assert flags - defined == set(), "in --help, not defined in the page: %s" % sorted(
        flags - defined)
    assert defined - flags == set(), "defined in the page, not in --help: %s" % sorted(
        defined - flags)


def test_report_flags_are_defined_in_its_section():
    text, _ = page_text()
    lines = sections(text).get("REPORT")
    assert lines, "the page has no REPORT section"
    defined = {m.group(1) for line in lines for m in [TERM.match(line)] if m}
    flags = help_flags("report", "--help")
    assert flags == defined, ("report --help", sorted(flags), "page", sorted(defined))


def test_every_flag_the_page_mentions_exists():
    """Prose and examples too: a renamed flag left in an example fails."""
    text, _ = page_text()
    known = help_flags("--help") | help_flags("report", "--help")
    mentioned = set(FLAG.findall(text))
    assert mentioned - known == set(), "the page names unknown flags: %s" % sorted(
        mentioned - known)


def test_man_renders_without_warning():
    text, warnings = page_text()
    assert warnings == "", warnings
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "SIGNALS", "EXIT STATUS",
                    "FILES", "EXAMPLES", "SEE ALSO"):
        assert heading in sections(text), heading


def test_the_warning_check_can_fail():
    """The same check on a copy with an undefined request must warn: the
    test above is only worth something if man --warnings speaks up."""
    page_text()
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "maillog_exporter.1")
        shutil.copy(PAGE, bad)
        with open(bad, "a") as f:
            f.write(".NOSUCHMACRO x\n")
        _, warnings = render(bad)
        assert "NOSUCHMACRO" in warnings, warnings


def test_exit_codes_in_the_page_are_the_binarys():
    """EXIT STATUS says 2 for a wrong flag and 1 for a file that does
    not load: check both against the binary."""
    text, _ = page_text()
    body = "\n".join(sections(text)["EXIT STATUS"])
    assert re.search(r"^ {7}2\s*$", body, re.M) and re.search(r"^ {7}1\s*$", body, re.M), body
    rc, _, _ = run("--no-such-flag")
    assert rc == 2, rc
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        f.write("parsers: [\n")
        f.flush()
        rc, _, _ = run("--config.file=" + f.name, "--check-config")
        assert rc == 1, rc


for fn in (test_every_help_flag_is_defined_in_the_page,
           test_report_flags_are_defined_in_its_section,
           test_every_flag_the_page_mentions_exists,
           test_man_renders_without_warning,
           test_the_warning_check_can_fail,
           test_exit_codes_in_the_page_are_the_binarys):
    cases.run(fn)
cases.finish()
