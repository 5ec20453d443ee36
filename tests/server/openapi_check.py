"""Check the server's answers against docs/api.yaml (OpenAPI 3.0).

lib.Daemon.req() hands every answer to check(); a mismatch is a FAIL line naming the
operation, the status and the JSON path, e.g.

  FAIL openapi GET /api/v1/vms/{name} -> 200: $.runtime.disks[0]: Additional properties
       are not allowed ('foo' was unexpected)  (request GET /api/v1/vms/c1)

Rules: the request is matched to the document's path templates (a literal segment beats a
template, as OpenAPI says); its method must be an operation there; the status must be one of
the operation's responses (or its "default"); the Content-Type must be one the response
lists, and a JSON body must validate against that media type's schema ($ref resolved,
OpenAPI's `nullable` honoured). A response without content must have no body. A request
outside the document (a probe of an unknown endpoint, a wrong method) must get an error
whose body is components/schemas/Error. Paths outside /api/ and /metrics (the web
console's files) are not checked.

Standalone: python3 tests/server/openapi_check.py [docs/api.yaml] loads the document and
compiles every schema (a quick syntax check; the npm validator in tests/server/openapi.py
is the real one); with --answers FILE it checks answers another test recorded (JSON lines
{method, path, status, type, body}: tests/web/server.test.mjs)."""
import json, os, re, sys, warnings

try:
    import jsonschema, yaml
except ImportError:   # Debian's python3-jsonschema and python3-yaml under another python3
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema, yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "api.yaml")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def to_json_schema(s):
    """OpenAPI 3.0 schema objects -> JSON Schema draft 4 (nullable -> null allowed)."""
    if isinstance(s, list):
        return [to_json_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: to_json_schema(v) for k, v in s.items()
           if k not in ("nullable", "example", "readOnly", "writeOnly", "discriminator", "xml",
                        "externalDocs", "deprecated")}
    if s.get("nullable") is True:
        if "type" in out:
            t = out["type"]
            out["type"] = (t if isinstance(t, list) else [t]) + ["null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def json_path(parts):
    p = "$"
    for x in parts:
        p += "[%d]" % x if isinstance(x, int) else "." + str(x)
    return p


class Document:
    def __init__(self, path=DOC):
        with open(path) as f:
            self.raw = yaml.safe_load(f)
        self.schema_doc = to_json_schema(self.raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resolver = jsonschema.RefResolver.from_schema(self.schema_doc)
        self.paths = []
        for tmpl, item in (self.raw.get("paths") or {}).items():
            segs = tmpl.strip("/").split("/")
            rx = "^/" + "/".join("[^/]+" if re.fullmatch(r"\{[^}]+\}", s) else re.escape(s)
                                 for s in segs) + "$"
            literal = sum(1 for s in segs if not s.startswith("{"))
            self.paths.append((re.compile(rx), literal, tmpl, item))
        self.checked = set()     # (METHOD, template, status) seen
        self.answers = 0

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            node = self.raw
            for part in ref.lstrip("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def match(self, method, path):
        """(template, operation) for the request, (template, None) when the path is
        documented without this method, or (None, None)."""
        path = path.split("?", 1)[0]
        cands = sorted(((lit, tmpl, item) for rx, lit, tmpl, item in self.paths if rx.match(path)),
                       key=lambda c: -c[0])
        for _, tmpl, item in cands:
            if method.lower() in item:
                return tmpl, item[method.lower()]
        return (cands[0][1] if cands else None), None

    def validate(self, schema_ref, value, schema_doc_path):
        """Error strings for value against the schema at schema_doc_path (a list of keys in
        the converted document)."""
        node = self.schema_doc
        for k in schema_doc_path:
            node = node[k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            v = jsonschema.Draft4Validator(node, resolver=self.resolver)
            errs = sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))
        out = []
        for e in errs:
            msg = "%s: %s" % (json_path(e.absolute_path), e.message)
            if e.context:       # oneOf/anyOf: why each branch failed
                subs = sorted(e.context, key=lambda c: (len(c.absolute_path), list(c.schema_path)))
                msg += " [branches: %s]" % "; ".join(
                    "#%s %s: %s" % (c.schema_path[0] if c.schema_path else "?",
                                    json_path(list(e.absolute_path) + list(c.relative_path)),
                                    c.message) for c in subs[:6])
            out.append(msg)
        return out

    def error_schema_path(self):
        return ["components", "schemas", "Error"]

    def check(self, method, path, status, content_type, text):
        """A list of mismatches (empty when the answer is what the document says)."""
        plain = path.split("?", 1)[0]
        if not (plain.startswith("/api/") or plain == "/metrics"):
            return []
        self.answers += 1
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        body = None
        if text:
            try:
                body = json.loads(text) if ctype == "application/json" else None
            except ValueError:
                return ["%s %s -> %d: the body is not JSON though Content-Type says so: %r"
                        % (method, path, status, text[:120])]
        tmpl, op = self.match(method, plain)
        if op is None:
            where = ("%s is documented, but not %s on it" % (tmpl, method)) if tmpl else \
                "no path of docs/api.yaml matches"
            if status < 400:
                return ["%s %s -> %d: %s (document the operation)" % (method, path, status, where)]
            if ctype != "application/json":
                return ["%s %s -> %d: an error answer must be application/json, not %r"
                        % (method, path, status, content_type)]
            return ["%s %s -> %d (%s): %s" % (method, path, status, where, m)
                    for m in self.validate(None, body, self.error_schema_path())]
        name = "%s %s -> %d" % (method, tmpl, status)
        self.checked.add((method, tmpl, status))
        responses = op.get("responses") or {}
        key = str(status) if str(status) in responses else ("default" if "default" in responses else None)
        if key is None:
            return ["%s: status %d is not documented for this operation (documented: %s)"
                    % (name, status, ", ".join(sorted(responses)))]
        resp = self.deref(responses[key])
        content = resp.get("content")
        if not content:
            if text:
                return ["%s: the answer has a body (%r) but the document describes none"
                        % (name, text[:120])]
            return []
        mt = None
        for k in content:
            if k.lower() == ctype:
                mt = k
        if mt is None:
            return ["%s: Content-Type %r is not one the document lists (%s)"
                    % (name, content_type, ", ".join(content))]
        if ctype != "application/json":
            return []
        # the schema's place in the converted document, for $ref resolution
        path_keys = self.schema_location(tmpl, method, key, mt)
        if path_keys is None:
            return []
        return ["%s: %s" % (name, m) for m in self.validate(None, body, path_keys)]

    def schema_location(self, tmpl, method, key, mt):
        resp = self.raw["paths"][tmpl][method.lower()]["responses"][key]
        base = ["paths", tmpl, method.lower(), "responses", key]
        if "$ref" in resp:
            base = [p.replace("~1", "/").replace("~0", "~") for p in resp["$ref"].lstrip("#/").split("/")]
            resp = self.deref(resp)
        if "schema" not in resp["content"][mt]:
            return None
        return base + ["content", mt, "schema"]


_doc = None


def document():
    global _doc
    if _doc is None:
        _doc = Document()
    return _doc


def check(method, path, status, content_type, text):
    """Mismatches of one answer with docs/api.yaml (list of strings)."""
    return document().check(method, path, status, content_type, text)


def check_file(path):
    """Check recorded answers: a file of JSON lines {method, path, status, type, body}.
    Returns the mismatches."""
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                for m in check(a["method"], a["path"], a["status"], a.get("type"), a.get("body") or ""):
                    if m not in out:
                        out.append(m)
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--answers":
        # answers recorded by another test (tests/web/server.test.mjs)
        bad = check_file(sys.argv[2])
        for m in bad:
            print(m)
        print("%d answers checked against docs/api.yaml, %d mismatches" % (document().answers, len(bad)))
        sys.exit(1 if bad else 0)
    d = Document(sys.argv[1] if len(sys.argv) > 1 else DOC)
    n = 0
    for tmpl, item in d.raw["paths"].items():
        for m in METHODS:
            for key in (item.get(m) or {}).get("responses", {}):
                for mt in (d.deref(item[m]["responses"][key]).get("content") or {}):
                    loc = d.schema_location(tmpl, m, key, mt)
                    if loc:
                        node = d.schema_doc
                        for k in loc:
                            node = node[k]
                        jsonschema.Draft4Validator.check_schema(node)
                        n += 1
    print("%d response schemas compile" % n)
