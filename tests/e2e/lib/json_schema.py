"""Validate real JSON outputs against the schemas in docs/json/.

usage: /usr/bin/python3 json_schema.py SCHEMA_DIR MANIFEST

MANIFEST has one line per output: "FORMAT PATH", FORMAT being the format the
output must be (the schema SCHEMA_DIR/FORMAT.schema.json); a PATH ending in
.jsonl holds one document per line (the audit log). For every document:

  - it validates against its schema (draft 2020-12; hpbuild-report's embedded
    reports and hpstatus-all's elements through their own schemas, by $ref);
  - the schema is not vacuous: the same document with "version": 2, and with
    its first required member after format and version removed, is rejected;
  - what a schema cannot say: hpdiff-report's summary counts its entries
    (embedded ones too), hpstatus-store's totals are the sums over its patches.

Every schema in SCHEMA_DIR must be exercised by at least one document. Prints
one line per format with its count, and each failure; exits 1 on any.
"""
import copy
import json
import pathlib
import sys

import jsonschema
from jsonschema import RefResolver

failures = []


def fail(where, what):
    failures.append(f"{where}: {what}")


def load_schemas(d):
    store = {}
    for p in sorted(pathlib.Path(d).resolve().glob("*.schema.json")):
        s = json.loads(p.read_text())
        jsonschema.Draft202012Validator.check_schema(s)
        store[p.name[: -len(".schema.json")]] = (p.as_uri(), s)
    return store


def validator(store, fmt):
    uri, schema = store[fmt]
    by_uri = {u: s for u, s in store.values()}
    return jsonschema.Draft202012Validator(schema, resolver=RefResolver(uri, schema, store=by_uri))


def diff_counts(where, rep):
    """hpdiff-report: summary against entries."""
    want = {"func": {}, "object": {}}
    line_only = 0
    for e in rep["entries"]:
        c = want[e["kind"]]
        c[e["status"].lower()] = c.get(e["status"].lower(), 0) + 1
        line_only += e.get("line_only", False)
    for kind, key in (("func", "functions"), ("object", "data")):
        for status in ("changed", "new", "removed", "same"):
            got = rep["summary"][key][status]
            if got != want[kind].get(status, 0):
                fail(where, f"summary.{key}.{status} is {got}, the entries count {want[kind].get(status, 0)}")
    if rep["summary"]["line_only"] != line_only:
        fail(where, f"summary.line_only is {rep['summary']['line_only']}, the entries count {line_only}")


def consistent(where, fmt, doc, seen):
    """The checks no schema expresses; counts embedded documents in seen."""
    if fmt == "hpdiff-report":
        diff_counts(where, doc)
    elif fmt == "hpbuild-report":
        for i, o in enumerate(doc["objects"]):
            if "report" in o:
                seen["hpdiff-report (in hpbuild-report)"] = seen.get("hpdiff-report (in hpbuild-report)", 0) + 1
                diff_counts(f"{where}: objects[{i}].report", o["report"])
    elif fmt == "hpstatus-all":
        seen["hpstatus (in hpstatus-all)"] = seen.get("hpstatus (in hpstatus-all)", 0) + len(doc["processes"])
    elif fmt == "hpstatus-store":
        procs = [p for x in doc["patches"] for p in x["processes"]]
        sums = {
            "processes": len(procs),
            "unpatched": sum(not p["patched"] for p in procs),
            "unverified": sum(not x["verified"] for x in doc["patches"]),
        }
        for k, v in sums.items():
            if doc[k] != v:
                fail(where, f"{k} is {doc[k]}, the patches say {v}")


def not_vacuous(where, v, schema, doc):
    bumped = copy.deepcopy(doc)
    bumped["version"] = 2
    if v.is_valid(bumped):
        fail(where, 'still valid with "version": 2: the schema does not pin the version')
    rest = [k for k in schema.get("required", []) if k not in ("format", "version")]
    if rest:
        cut = copy.deepcopy(doc)
        cut.pop(rest[0], None)
        if v.is_valid(cut):
            fail(where, f"still valid without {rest[0]!r}: the schema does not require it")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[2])
    store = load_schemas(sys.argv[1])
    validators = {f: validator(store, f) for f in store}
    seen = {}
    for n, line in enumerate(pathlib.Path(sys.argv[2]).read_text().splitlines(), 1):
        if not line.strip():
            continue
        fmt, path = line.split(None, 1)
        if fmt not in store:
            fail(f"manifest line {n}", f"no schema {fmt}.schema.json")
            continue
        text = pathlib.Path(path).read_text()
        docs = text.splitlines() if path.endswith(".jsonl") else [text]
        if not any(d.strip() for d in docs):
            fail(path, "empty")
        for k, d in enumerate(docs, 1):
            where = f"{path}:{k}" if path.endswith(".jsonl") else path
            try:
                doc = json.loads(d)
            except ValueError as e:
                fail(where, f"not JSON: {e}")
                continue
            errors = sorted(validators[fmt].iter_errors(doc), key=lambda e: list(e.absolute_path))
            for e in errors[:5]:
                at = "/".join(str(p) for p in e.absolute_path) or "(top)"
                fail(where, f"not a valid {fmt}: at {at}: {e.message[:300]}")
            if errors:
                continue
            seen[fmt] = seen.get(fmt, 0) + 1
            not_vacuous(where, validators[fmt], store[fmt][1], doc)
            consistent(where, fmt, doc, seen)
    for fmt in store:
        if fmt not in seen:
            fail(f"{fmt}.schema.json", "no output of this format was validated")
    for fmt in sorted(seen):
        print(f"  {seen[fmt]:4} {fmt}")
    for f in failures:
        print(f"FAIL: {f}")
    sys.exit(1 if failures else 0)


main()
