"""deploy/kubernetes/: every manifest validated offline against the
Kubernetes and Prometheus Operator schemas (npm kubernetes-models and
@kubernetes-models/prometheus-operator, run by Debian's nodejs), and the
validation shown to reject broken copies of them. No cluster is run.

The npm packages are installed once into the build directory (pinned
versions whose engines accept Debian 12's nodejs 18); the registry must be
reachable the first time.
"""
import copy
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

TESTS_DIR = os.environ.get("TESTS_DIR", os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ROOT = os.path.dirname(TESTS_DIR)
MANIFESTS = sorted(glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "*.yaml")))
VALIDATOR = os.path.join(TESTS_DIR, "deploy", "validate_kubernetes.js")
PACKAGES = ["kubernetes-models@4.5.1", "@kubernetes-models/prometheus-operator@4.4.4",
            "yaml@2.9.1"]
# The build directory (meson runs tests there), so one install serves
# every run of this build.
CACHE = os.path.join(os.getcwd(), "npm-kubernetes-models")

passed = failed = 0


def report(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, detail))
    sys.stdout.flush()


def install():
    stamp = os.path.join(CACHE, "installed-" + "-".join(p.replace("/", "_") for p in PACKAGES))
    if os.path.exists(stamp):
        return
    os.makedirs(CACHE, exist_ok=True)
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save",
                        "--prefix", CACHE] + PACKAGES,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit("npm install %s failed:\n%s" % (" ".join(PACKAGES), r.stderr[-2000:]))
    open(stamp, "w").close()


def validate(paths):
    env = dict(os.environ, NODE_PATH=os.path.join(CACHE, "node_modules"))
    r = subprocess.run(["node", VALIDATOR] + paths, capture_output=True, text=True,
                       env=env, timeout=120)
    return r.returncode, r.stdout + r.stderr


def load_json(path):
    """The manifest's documents as JSON, through the same yaml package."""
    env = dict(os.environ, NODE_PATH=os.path.join(CACHE, "node_modules"))
    r = subprocess.run(["node", "-e", "const Y=require('yaml');const fs=require('fs');"
                        "console.log(JSON.stringify(Y.parseAllDocuments(fs.readFileSync("
                        "process.argv[1],'utf8')).map(d=>d.toJSON())))", path],
                       capture_output=True, text=True, env=env, timeout=60, check=True)
    return json.loads(r.stdout)


def main():
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            # tests/run.sh installs nodejs and npm; without them the
            # manifests are unchecked, which is a failure, not a skip.
            print("FAIL: %s not found (Debian packages nodejs, npm)" % tool)
            sys.exit(1)
    install()

    # 1. Every manifest, every object: valid, and the kinds expected.
    rc, out = validate(MANIFESTS)
    print(out, end="")
    kinds = sorted(line.split(": ")[1].split("/")[0] for line in out.splitlines()
                   if line.startswith("ok "))
    report("manifests_valid", rc == 0, out)
    want = ["DaemonSet", "Deployment", "Namespace", "PodMonitor", "ServiceAccount"]
    report("kinds", kinds == want, "%s != %s" % (kinds, want))

    # 2. Broken copies must be rejected: one field changed in each.
    def ds(doc):
        return doc["spec"]["template"]["spec"]

    mutations = [
        ("daemonset.yaml", "containerPort not a number",
         lambda d: ds(d)["containers"][0]["ports"][0].__setitem__("containerPort", "metrics")),
        ("daemonset.yaml", "selector missing", lambda d: d["spec"].pop("selector")),
        ("daemonset.yaml", "hostPath type not an enum value",
         lambda d: ds(d)["volumes"][0]["hostPath"].__setitem__("type", "Folder")),
        ("daemonset.yaml", "readOnlyRootFilesystem not a boolean",
         lambda d: ds(d)["containers"][0]["securityContext"].__setitem__(
             "readOnlyRootFilesystem", "yes")),
        ("sidecar.yaml", "containers not a list",
         lambda d: ds(d).__setitem__("containers", {"name": "postfix"})),
        ("podmonitor.yaml", "interval not a duration",
         lambda d: d["spec"]["podMetricsEndpoints"][0].__setitem__("interval", "soon")),
        ("serviceaccount.yaml", "automountServiceAccountToken not a boolean",
         lambda d: d.__setitem__("automountServiceAccountToken", "no")),
        ("namespace.yaml", "unknown kind", lambda d: d.__setitem__("kind", "Namespaces")),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, what, mutate in mutations:
            docs = load_json(os.path.join(ROOT, "deploy", "kubernetes", name))
            broken = copy.deepcopy(docs)
            mutate(broken[0])
            path = os.path.join(tmp, name.replace(".yaml", ".json"))
            # JSON is YAML: the validator reads it as it reads the files.
            with open(path, "w") as f:
                f.write("\n---\n".join(json.dumps(d) for d in broken))
            rc, out = validate([path])
            report("rejects %s: %s" % (name, what), rc != 0 and "invalid " in out, out)
            # The unbroken copy passes the same way, so the rejection is the
            # mutation's doing.
            with open(path, "w") as f:
                f.write("\n---\n".join(json.dumps(d) for d in docs))
            rc, out = validate([path])
            report("accepts %s unbroken" % name, rc == 0, out)

    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
