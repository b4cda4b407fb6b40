"""Validates every example in openapi.yaml against its schema (JSON Schema 2020-12, as
OpenAPI 3.1 uses). Exit 1 naming each example that fails; prints the count that pass."""
import sys

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

spec = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
resource = Resource.from_contents(spec, default_specification=DRAFT202012)
registry = Registry().with_resource("urn:spec", resource)


def check(schema, example, where, failures):
    wrapped = {"$ref": "urn:spec" + schema["$ref"]} if "$ref" in schema else schema
    validator = jsonschema.Draft202012Validator(wrapped, registry=registry)
    errors = list(validator.iter_errors(example))
    for e in errors:
        failures.append(f"{where}: {e.message}")
    return not errors


failures, passed = [], 0


def refs(node, where):
    """Every $ref in the document must name something that exists."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                target = spec
                for part in v.lstrip("#/").split("/"):
                    target = target.get(part) if isinstance(target, dict) else None
                if target is None:
                    failures.append(f"{where}: unresolvable $ref {v}")
            else:
                refs(v, where)
    elif isinstance(node, list):
        for v in node:
            refs(v, where)


refs(spec, "openapi.yaml")
for path, item in spec["paths"].items():
    for method, op in item.items():
        if not isinstance(op, dict):
            continue
        bodies = []
        rb = op.get("requestBody", {}).get("content", {})
        for ctype, media in rb.items():
            bodies.append((f"{method.upper()} {path} request {ctype}", media))
        for status, resp in op.get("responses", {}).items():
            for ctype, media in resp.get("content", {}).items():
                bodies.append((f"{method.upper()} {path} {status} {ctype}", media))
        for where, media in bodies:
            if "example" in media and "schema" in media:
                if check(media["schema"], media["example"], where, failures):
                    passed += 1
for name, schema in spec["components"]["schemas"].items():
    if "example" in schema and isinstance(schema["example"], (dict, list)):
        if check({"$ref": f"#/components/schemas/{name}"}, schema["example"], name, failures):
            passed += 1
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"{passed} examples valid")
