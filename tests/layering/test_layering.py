"""The layers hold: every #include "..." in the product code (util/,
parsers/, store/, web/, daemon/) names a file by its path from the source
tree's root, the file exists, and it is in the same layer or one below:

    util < parsers < store < web < daemon

So web/ never includes daemon/. Inside a layer, a file in a subfolder
(daemon/input/, daemon/queue/) includes from that layer only its own
subfolder: the inputs and the queue collectors know nothing of main,
options, config or report, nor of each other. They sit beside web/, not on
it: below daemon/ they include util/, parsers/ and store/ only. The one
include that is not a path is build_config.h, which meson writes at the
build root.

Each layer's meson.build is checked too: a layer's library names the
libraries (X_dep, X_lib) of the layers below it and never one above, so
the link goes one way as the includes do.

The diagram of the layers is drawn twice, in docs/hacking.md ("Layers")
and in README.md ("Source layout"); the two must be the same drawing.

Every problem is printed as FILE:LINE: rule, and the test fails. Before
the real tree, the checker is run on small synthetic trees in a temporary
directory, each holding one violation of one rule, and must fail on each
(and pass on a clean one); so a checker that can no longer fail fails.

Usage: test_layering.py [ROOT]   (ROOT defaults to the source tree)
"""
import os
import re
import subprocess
import sys
import tempfile

LAYERS = ["util", "parsers", "store", "web", "daemon"]
RANK = {name: i for i, name in enumerate(LAYERS)}
# Files meson generates at the build root, included by their bare name.
GENERATED = {"build_config.h"}
# What a subfolder of a layer may include from the layers below its own.
SUBFOLDER_BELOW = {"daemon": {"util", "parsers", "store"}}
# The names each layer's meson.build gives its library and dependency.
MESON_NAMES = {"util": "util", "parsers": "parsers", "store": "store", "web": "web",
               "core": "daemon"}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]*)"')
MESON_REF = re.compile(r"\b(util|parsers|store|web|core)_(dep|lib)\b")

RULE_BARE = "include by path from the root (\"store/aggregate.h\"), not a bare name"
RULE_RELATIVE = "include by path from the root, without ./ or ../"
RULE_MISSING = "the included path does not exist"
RULE_OUTSIDE = "product code includes only the layers (util/ parsers/ store/ web/ daemon/)"
RULE_UP = "a lower layer includes a higher one (util < parsers < store < web < daemon)"
RULE_WEB_DAEMON = "web/ never includes daemon/"
RULE_SUBFOLDER = ("a layer's subfolder includes from its own layer only its own "
                  "subfolder")
RULE_SUBFOLDER_WEB = ("daemon/input/ and daemon/queue/ include util/ parsers/ "
                      "store/, not web/")
RULE_DIAGRAM = "the layer diagram differs from docs/hacking.md's; draw it the same in both"
RULE_MESON = "a layer's library links only the layers below it"


def strip_comments(text):
    """The text with /* */ and // comments blanked, newlines kept, so that
    an #include written in a comment is not read and line numbers hold.
    String and character literals are copied through, so a "/*" or a '"'
    in one starts nothing."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] not in q + "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def sources(root):
    """Every .c and .h under the layers, as paths relative to root."""
    for layer in LAYERS:
        top = os.path.join(root, layer)
        for d, dirs, files in os.walk(top):
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")


def check_include(root, rel, target):
    """The rule an include of `target` from file `rel` breaks, or None."""
    if target in GENERATED:
        return None
    parts = target.split("/")
    if len(parts) == 1:
        return RULE_BARE
    if any(p in (".", "..", "") for p in parts):
        return RULE_RELATIVE
    if not os.path.isfile(os.path.join(root, *parts)):
        return RULE_MISSING
    src, dst = rel.split("/"), parts
    if dst[0] not in RANK:
        return RULE_OUTSIDE
    if RANK[dst[0]] > RANK[src[0]]:
        return RULE_WEB_DAEMON if (src[0], dst[0]) == ("web", "daemon") else RULE_UP
    if dst[0] != src[0] and len(src) > 2 and src[0] in SUBFOLDER_BELOW \
            and dst[0] not in SUBFOLDER_BELOW[src[0]]:
        return RULE_SUBFOLDER_WEB
    if dst[0] == src[0] and len(src) > 2:
        # src is in a subfolder of its layer: same layer means same subfolder
        if len(dst) < 3 or dst[1] != src[1]:
            return RULE_SUBFOLDER
    return None


def check_meson(root):
    problems = []
    for layer in LAYERS:
        path = os.path.join(root, layer, "meson.build")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for no, line in enumerate(lines, 1):
            code = line.split("#", 1)[0]
            for m in MESON_REF.finditer(code):
                other = MESON_NAMES[m.group(1)]
                if RANK[other] > RANK[layer]:
                    problems.append("%s/meson.build:%d: %s (%s names %s)" % (
                        layer, no, RULE_MESON, layer, m.group(0)))
    return problems


DIAGRAM_START = "util/ --> parsers/ --> store/ --> web/ --> daemon/"


def diagram(path):
    """(line, text) of the fenced block that opens with the layers' arrow
    line, or (0, None)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if line.strip() == DIAGRAM_START and i > 0 and lines[i - 1].startswith("```"):
            end = next((j for j in range(i, len(lines)) if lines[j].startswith("```")),
                       len(lines))
            return i + 1, "\n".join(lines[i:end])
    return 0, None


def check_diagrams(root):
    """The README's drawing of the layers is docs/hacking.md's."""
    docs = [os.path.join(root, "docs", "hacking.md"), os.path.join(root, "README.md")]
    if not all(os.path.isfile(p) for p in docs):
        return []
    (hl, ht), (rl, rt) = diagram(docs[0]), diagram(docs[1])
    if ht is None or rt is None:
        return ["%s: no ``` block opening with %r" % ("docs/hacking.md" if ht is None
                                                      else "README.md", DIAGRAM_START)]
    if ht != rt:
        return ["README.md:%d: %s (docs/hacking.md:%d)" % (rl, RULE_DIAGRAM, hl)]
    return []


def check_tree(root):
    """All problems in the tree rooted at `root`, and how many includes
    were checked."""
    problems, n = [], 0
    for rel in sources(root):
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = strip_comments(f.read())
        for no, line in enumerate(text.split("\n"), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            n += 1
            rule = check_include(root, rel, m.group(1))
            if rule:
                problems.append('%s:%d: #include "%s": %s' % (rel, no, m.group(1), rule))
    return problems + check_meson(root) + check_diagrams(root), n


# --- the checker itself, on trees made to fail ---------------------------

def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


CLEAN = {
    "util/log.h": "/* log */\n",
    "util/log.c": '#include "util/log.h"\n#include <stdio.h>\n',
    "parsers/mp.h": '#include "util/log.h"\n',
    "store/aggregate.h": '#include "parsers/mp.h"\n',
    "web/expo.h": '#include "store/aggregate.h"\n#include "build_config.h"\n',
    "daemon/input/tailer.h": '#include "store/aggregate.h"\n',
    "daemon/input/once.c": '#include "daemon/input/tailer.h"\n',
    "daemon/queue/queue.h": '#include "util/log.h"\n',
    "daemon/config.h": "/* config */\n",
    "tests/golden.h": "/* not product code: never scanned, never to be included */\n",
    "docs/hacking.md": "# Hacking\n```\n%s\nutil/\n```\n" % DIAGRAM_START,
    "README.md": "```\n%s\nutil/\n```\n" % DIAGRAM_START,
    "daemon/main.c": ('#include "daemon/input/tailer.h"\n#include "daemon/queue/queue.h"\n'
                      '#include "web/expo.h"\n/* #include "nothing.h" in a comment */\n'
                      '// #include "daemon/gone.h"\n'),
    "store/meson.build": "store_lib = static_library('s', dependencies: [parsers_dep])\n"
                         "store_dep = declare_dependency(link_with: store_lib)\n",
    "daemon/meson.build": "core_lib = static_library('c', dependencies: [web_dep])\n",
}

# One violation each: (what, file, its text, the line and the rule it must be
# reported under).
BROKEN = [
    ("bare name", "store/topk.c", '#include "aggregate.h"\n', 1, RULE_BARE),
    ("relative path", "store/topk.c", '#include "../util/log.h"\n', 1, RULE_RELATIVE),
    ("missing path", "store/topk.c", '\n#include "store/topk.h"\n', 2, RULE_MISSING),
    ("outside the layers", "store/topk.c", '#include "tests/golden.h"\n', 1, RULE_OUTSIDE),
    ("util includes parsers", "util/log.c", '#include "parsers/mp.h"\n', 1, RULE_UP),
    ("parsers includes store", "parsers/mp.h", '#include "store/aggregate.h"\n', 1, RULE_UP),
    ("store includes web", "store/aggregate.h", '#include "web/expo.h"\n', 1, RULE_UP),
    ("web includes daemon", "web/expo.h", '#include "daemon/input/tailer.h"\n', 1,
     RULE_WEB_DAEMON),
    ("input includes daemon's top", "daemon/input/once.c", '#include "daemon/config.h"\n', 1,
     RULE_SUBFOLDER),
    ("queue includes input", "daemon/queue/queue.h", '#include "daemon/input/tailer.h"\n', 1,
     RULE_SUBFOLDER),
    ("input includes web", "daemon/input/once.c", '#include "web/expo.h"\n', 1,
     RULE_SUBFOLDER_WEB),
    ("store links web", "store/meson.build",
     "store_lib = static_library('s', dependencies: [web_dep])\n", 1, RULE_MESON),
    ("diagrams differ", "README.md", "```\n%s\ndaemon/\n```\n" % DIAGRAM_START, 2,
     RULE_DIAGRAM),
]


def selfcheck():
    """The checker, run as this script on synthetic trees: passes on a
    clean one, fails naming file:line and the rule on each broken one."""
    failures = []
    with tempfile.TemporaryDirectory(prefix="layering-") as tmp:
        def run(name, files):
            root = os.path.join(tmp, name.replace(" ", "_").replace("'", ""))
            for rel, text in files.items():
                write(root, rel, text)
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "--no-selfcheck",
                                root], capture_output=True, text=True)
            return p.returncode, p.stdout
        rc, out = run("clean", CLEAN)
        if rc != 0:
            failures.append("clean tree: exit %d, expected 0:\n%s" % (rc, out))
        for what, rel, text, line, rule in BROKEN:
            files = dict(CLEAN)
            files[rel] = text
            rc, out = run(what, files)
            want = "%s:%d: " % (rel, line)
            found = [l for l in out.split("\n") if re.match(r"^\S+:\d+: ", l)]
            if rc != 1 or len(found) != 1 or not found[0].startswith(want) \
                    or rule not in found[0]:
                failures.append("%s: exit %d, expected 1 and the one line '%s...%s':\n%s"
                                % (what, rc, want, rule, out))
    return failures


def main(argv):
    args = [a for a in argv[1:] if a != "--no-selfcheck"]
    root = os.path.abspath(args[0]) if args else os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    failed = False
    if "--no-selfcheck" not in argv:
        failures = selfcheck()
        for f in failures:
            print("FAIL selfcheck: %s" % f)
        if failures:
            failed = True
        else:
            print("ok   selfcheck: the checker fails on each of %d synthetic violations "
                  "and passes a clean tree" % len(BROKEN))
    problems, n = check_tree(root)
    for p in problems:
        print(p)
    print("%d includes checked, %d problems" % (n, len(problems)))
    if n == 0:
        print("no includes found under %s: wrong root?" % root)
        failed = True
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
