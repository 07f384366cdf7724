"""Every link into the manual lands: each relative link in README.md and
docs/*.md, each alert's runbook in deploy/prometheus/rules.yml and each
path into the manual in the Grafana dashboard (deploy/grafana/maillog.json)
names a file that exists and, with a #fragment, a heading of that file.

Anchors follow GitHub's rules for headings (as github-slugger makes them):
the heading's text, lowercased, every character that is not a letter,
digit, '-', '_' or space removed, each space turned into '-'; a repeated
anchor gets -1, -2, ... in order. Fenced code blocks and inline code are
not Markdown, so neither their '#' lines nor their brackets count.

The checker is run on a scratch tree too, with links broken on purpose, so
that it is seen to fail. Also: the README's sample of the exposition is what
the binary prints for examples/mail.log, and the README is under 300 lines.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
README_MAX_LINES = 300     # the README stays a front page; the manual is in docs/
harness.require_binary()
cases = harness.Cases()

FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
# Inline code: a run of backticks to the same run, not across a blank line.
CODE_SPAN = re.compile(r"(`+)(?:(?!\n[ \t]*\n).)+?\1", re.S)
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A path into the manual inside a string that is not Markdown (JSON, YAML).
DOC_PATH = re.compile(r"(?<![\w/.-])((?:README|docs/[\w.-]+)\.md)(#[^\s\"'\\),.;]*)?")


def slug(text):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)   # a link shows its text
    text = re.sub(r"<[^>]+>", "", text)                       # inline HTML tags
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def prose(text):
    """The text with fenced code blocks blanked (line numbers kept)."""
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None:
            if line.startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def anchors(path):
    """The anchors of a Markdown file's headings, in GitHub's way."""
    with open(path, encoding="utf-8") as f:
        text = prose(f.read())
    seen, out = {}, set()
    for line in text.split("\n"):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else "%s-%d" % (base, n))
    return out


def check_target(target, base_dir, root, where, cache):
    """'' if `target` (a relative link, from base_dir) lands, else why not."""
    path, _, frag = target.partition("#")
    full = os.path.normpath(os.path.join(base_dir, path)) if path else where[0]
    if not (full == root or full.startswith(root + os.sep)):
        return "%s:%d: %s leaves the source tree" % (where[1], where[2], target)
    if not os.path.exists(full):
        return "%s:%d: %s: no file %s" % (where[1], where[2], target,
                                          os.path.relpath(full, root))
    if frag:
        if not full.endswith(".md") or not os.path.isfile(full):
            return "%s:%d: %s: a #fragment on a file that has no headings" % (
                where[1], where[2], target)
        if full not in cache:
            cache[full] = anchors(full)
        if frag not in cache[full]:
            return "%s:%d: %s: %s has no heading with anchor #%s" % (
                where[1], where[2], target, os.path.relpath(full, root), frag)
    return ""


def markdown_links(path):
    """(line, target) of each inline link outside code."""
    with open(path, encoding="utf-8") as f:
        text = prose(f.read())
    text = CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    for m in LINK.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(2)


def check_markdown(path, root, cache):
    """Problems with the relative links of one Markdown file; the count of
    links checked."""
    problems, n = [], 0
    rel = os.path.relpath(path, root)
    for line, target in markdown_links(path):
        if SCHEME.match(target) or target.startswith("//"):
            continue        # http(s), mailto: not this test's business (no network)
        n += 1
        if not target:
            problems.append("%s:%d: empty link" % (rel, line))
            continue
        p = check_target(target, os.path.dirname(path), root, (path, rel, line), cache)
        if p:
            problems.append(p)
    return problems, n


def check_paths_in(path, root, cache, strings):
    """Problems with the manual paths in `strings` (from a non-Markdown file
    at `path`; the paths are relative to the source tree's root)."""
    problems, n = [], 0
    rel = os.path.relpath(path, root)
    for line, s in strings:
        for m in DOC_PATH.finditer(s):
            n += 1
            p = check_target(m.group(1) + (m.group(2) or ""), root, root, (path, rel, line),
                             cache)
            if p:
                problems.append(p)
    return problems, n


def manual_files(root):
    docs = os.path.join(root, "docs")
    return [os.path.join(root, "README.md")] + sorted(
        os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md"))


def check_tree(root):
    """All problems in a source tree, and how many links were checked per file."""
    cache, problems, counts = {}, [], {}
    for path in manual_files(root):
        p, n = check_markdown(path, root, cache)
        problems += p
        counts[os.path.relpath(path, root)] = n
    rules = os.path.join(root, "deploy", "prometheus", "rules.yml")
    with open(rules, encoding="utf-8") as f:
        lines = f.read().split("\n")
    runbooks = [(i + 1, l) for i, l in enumerate(lines) if re.match(r"\s*runbook:", l)]
    p, n = check_paths_in(rules, root, cache, runbooks)
    problems += p
    counts["deploy/prometheus/rules.yml"] = n
    if n != len(runbooks):
        problems.append("rules.yml: %d runbook annotations, %d of them name a page of the "
                        "manual" % (len(runbooks), n))
    dash = os.path.join(root, "deploy", "grafana", "maillog.json")
    with open(dash, encoding="utf-8") as f:
        text = f.read()
    strings = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "url" and isinstance(x, str) and not SCHEME.match(x) and x \
                        and not x.startswith(("/", "$", "#")) and ".md" not in x:
                    problems.append("maillog.json: url %r is neither absolute nor the "
                                    "manual" % x)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            strings.append((0, v))
    walk(json.loads(text))
    p, n = check_paths_in(dash, root, cache, strings)
    problems += p
    counts["deploy/grafana/maillog.json"] = n
    return problems, counts


# --- the checker itself, on trees made to fail ---------------------------

def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def scratch_tree(d, readme, doc, rules, dash):
    write(d, "README.md", readme)
    write(d, "docs/a.md", doc)
    write(d, "deploy/prometheus/rules.yml", rules)
    write(d, "deploy/grafana/maillog.json", json.dumps(dash))


GOOD_DOC = """# A

## Exim's rejectlog
## `maillog_x_total{mta,code}` (counter)
## Source layout (reading order)
## Deploy
### Deploy
```sh
# not a heading
[not a link](nowhere.md)
```
Back to [the README](../README.md#top) and [here](#deploy-1), `[code](gone.md)`.
"""
GOOD_README = "# Top\n\nSee [rejectlog](docs/a.md#exims-rejectlog), " \
    "[x](docs/a.md#maillog_x_totalmtacode-counter),\n[layout](docs/a.md#source-layout-reading-order)" \
    ", [a dir](docs/) and <https://example.com/x.md#nothing>.\n"
GOOD_RULES = '      annotations:\n          runbook: "docs/a.md#deploy"\n'
GOOD_DASH = {"panels": [{"description": "see (docs/a.md#deploy-1).",
                         "links": [{"url": "https://grafana.example/d/x"}]}]}


def test_slug_rules():
    assert slug("Exim's rejectlog") == "exims-rejectlog"
    assert slug("Source layout (reading order)") == "source-layout-reading-order"
    assert slug("`maillog_smtp_status_total{mta,direction,class,code,enhanced}` (counter)") \
        == "maillog_smtp_status_totalmtadirectionclasscodeenhanced-counter"
    assert slug("The `host` label") == "the-host-label"
    assert slug("Self-metrics") == "self-metrics"
    assert slug("MaillogOutbound4xxSpike") == "maillogoutbound4xxspike"
    assert slug("Migrating from postfix_exporter and exim_exporter") == \
        "migrating-from-postfix_exporter-and-exim_exporter"


def test_checker_passes_good_tree():
    with tempfile.TemporaryDirectory() as d:
        d = os.path.realpath(d)
        scratch_tree(d, GOOD_README, GOOD_DOC, GOOD_RULES, GOOD_DASH)
        problems, counts = check_tree(d)
        assert problems == [], problems
        # The links inside code were not taken for links; the external one skipped.
        assert counts == {"README.md": 4, "docs/a.md": 2, "deploy/prometheus/rules.yml": 1,
                          "deploy/grafana/maillog.json": 1}, counts


def test_checker_fails_broken_links():
    broken_readme = GOOD_README + "\n[gone](docs/gone.md) [bad](docs/a.md#exim-s-rejectlog)" \
        " [third](docs/a.md#deploy-2) [out](../../etc/passwd) [self](#nope)\n"
    with tempfile.TemporaryDirectory() as d:
        d = os.path.realpath(d)
        scratch_tree(d, broken_readme, GOOD_DOC,
                     GOOD_RULES + '          runbook: "docs/a.md#nosuchalert"\n'
                     '          runbook: "README.md#top"\n'
                     '          runbook: "https://elsewhere.example/runbook"\n',
                     {"panels": [{"description": "(README.md#missing)",
                                  "links": [{"url": "docs/gone.md"},
                                            {"url": "dashboards/other"}]}]})
        problems, _ = check_tree(d)
        text = "\n".join(problems)
        for want in ("README.md:6: docs/gone.md: no file docs/gone.md",
                     "README.md:6: docs/a.md#exim-s-rejectlog: docs/a.md has no heading "
                     "with anchor #exim-s-rejectlog",
                     "README.md:6: docs/a.md#deploy-2: docs/a.md has no heading",
                     "README.md:6: ../../etc/passwd leaves the source tree",
                     "README.md:6: #nope: README.md has no heading with anchor #nope",
                     "rules.yml:3: docs/a.md#nosuchalert: docs/a.md has no heading",
                     "rules.yml: 4 runbook annotations, 3 of them name a page",
                     "maillog.json:0: README.md#missing: README.md has no heading",
                     "maillog.json:0: docs/gone.md: no file docs/gone.md",
                     "maillog.json: url 'dashboards/other' is neither absolute nor the manual"):
            assert want in text, "%r not reported in:\n%s" % (want, text)
        assert len(problems) == 10, text


# --- the real tree -------------------------------------------------------

def test_links_land():
    problems, counts = check_tree(SRC)
    print("  links checked: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    assert problems == [], "\n".join(problems)
    # Not vacuous: the README points into docs/, every alert has its runbook.
    assert counts["README.md"] >= 20, counts
    with open(os.path.join(SRC, "deploy", "prometheus", "rules.yml")) as f:
        alerts = len(re.findall(r"^\s*- alert:", f.read(), re.M))
    assert counts["deploy/prometheus/rules.yml"] == alerts > 0, (counts, alerts)
    assert counts["deploy/grafana/maillog.json"] >= 1, counts


def test_readme_example_output():
    """The README's sample of /metrics is what the binary prints for
    examples/mail.log, line for line."""
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- tests/blackbox/test_doclinks.py checks these lines against --once -->"
                  r"\n```\n(.*?)```\n", text, re.S)
    assert m, "README.md has no marked example output"
    shown = m.group(1).splitlines()
    assert len(shown) >= 3, shown
    p = subprocess.run([harness.BIN, "--once", "--maillog.path=" +
                        os.path.join(SRC, "examples", "mail.log")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = set(p.stdout.splitlines())
    missing = [l for l in shown if l not in lines]
    assert not missing, "README's example output is not what --once prints: %s" % missing


def test_readme_short():
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        n = f.read().count("\n")
    assert n < README_MAX_LINES, "README.md has %d lines; the manual belongs in docs/" % n


for fn in (test_slug_rules, test_checker_passes_good_tree, test_checker_fails_broken_links,
           test_links_land, test_readme_example_output, test_readme_short):
    cases.run(fn)
cases.finish()
