// Validate Kubernetes manifests offline against the schemas bundled in the
// npm packages kubernetes-models and @kubernetes-models/prometheus-operator
// (run by test_kubernetes.py, which installs them; NODE_PATH names them).
//
//   node validate_kubernetes.js FILE...
//
// Each YAML document of each file becomes the model class of its
// apiVersion and kind, and that class's validate() checks it: types,
// required fields, enums, patterns. A kind with no model is an error, not
// a pass. One line per object; exit 1 if any is invalid.
"use strict";
const fs = require("fs");
const YAML = require("yaml");

function model(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? null : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  let mod;
  if (group === "monitoring.coreos.com")
    mod = "@kubernetes-models/prometheus-operator/" + group + "/" + version + "/" + kind;
  else if (group === null)
    mod = "kubernetes-models/" + version + "/" + kind;
  else
    mod = "kubernetes-models/" + group + "/" + version + "/" + kind;
  const m = require(mod)[kind];
  if (typeof m !== "function")
    throw new Error("no model class " + kind + " in " + mod);
  return m;
}

let bad = 0, good = 0;
for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.log("invalid " + file + ": YAML: " + doc.errors[0].message);
      bad++;
      continue;
    }
    const obj = doc.toJSON();
    if (obj === null)
      continue;
    const what = file + ": " + obj.kind + "/" + (obj.metadata && obj.metadata.name);
    try {
      if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string")
        throw new Error("no apiVersion or kind");
      const Model = model(obj.apiVersion, obj.kind);
      new Model(obj).validate();
      console.log("ok " + what);
      good++;
    } catch (e) {
      console.log("invalid " + what + ": " + String(e.message).split("\n")[0]);
      bad++;
    }
  }
}
if (good + bad === 0) {
  console.log("no objects");
  process.exit(1);
}
process.exit(bad > 0 ? 1 : 0);
