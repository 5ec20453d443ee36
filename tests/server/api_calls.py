"""The API calls the web console (web/*.mjs) and the CLI (src/client/*.c) make, read from their
source, so a test can check that each one is an operation of docs/api.yaml.

A call is (file:line, methods, candidate paths); a path is a template whose "{}" segments
are what the code fills in at run time (a name, an action). How calls are found:
- web: `.request('METHOD', EXPR` and `.raw('METHOD', EXPR` (EXPR: string literals joined by
  + with anything else as "{}"), `.stream(EXPR` (GET); an identifier EXPR is resolved through
  its `let/const NAME = EXPR` in the same file (none: a helper passing its own argument on,
  skipped).
- cli: `client_call(CL, METHOD, PATH, ...)` (METHOD a literal or a ?: of literals),
  `client_stream(CL, PATH, ...)` (GET) and `client_upload(CL, PATH, ...)` (PUT); PATH a literal or a buffer filled by
  snprintf/strcpy/initializer in a block that encloses the call (the nearest one before it),
  with any strcat(PATH, "...") in such a block as an optional suffix; a struct member
  (c->path) by what any snprintf in the file puts in that member. printf formats (%s,
  %lld) become "{}".
A query string is dropped. An API path literal that no call explains is reported too
(`stray`), so a new way of calling the API is not silently left out."""
import os, re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
API_LIT = re.compile(r"""(['"`])(/api/v1[^'"`]*|/metrics)\1""")


def template(parts):
    """Joined literal/None parts -> a path template with {} for the unknown parts."""
    s = "".join(p if p is not None else "\0" for p in parts)
    s = s.split("?", 1)[0]
    segs = []
    for seg in s.split("/"):
        segs.append("{}" if "\0" in seg or "%" in seg else seg)
    return "/".join(segs)


def c_format(fmt):
    return re.sub(r"%[-0-9.]*(?:ll|l|z)?[sdiu]", "\0", fmt)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


# ---- web/*.mjs ------------------------------------------------------------------------
def js_code(text):
    """The text with comments blanked (same length, so positions and lines stay)."""
    out, i, n = list(text), 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        else:
            i += 1
    return "".join(out)


def split_args(s):
    """The top-level comma-separated arguments at the start of s (up to the closing ')')."""
    args, depth, cur, i, q = [], 0, "", 0, None
    while i < len(s):
        c = s[i]
        if q:
            cur += c
            if c == "\\":
                cur += s[i + 1]
                i += 1
            elif c == q:
                q = None
        elif c in "'\"`":
            q = c
            cur += c
        elif c in "([{":
            depth += 1
            cur += c
        elif c in ")]}":
            if depth == 0:
                args.append(cur.strip())
                return args
            depth -= 1
            cur += c
        elif c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    args.append(cur.strip())
    return args


def js_parts(expr):
    """'/a/' + seg(x) + '/b' -> ['/a/', None, '/b']; None for a non-literal term."""
    parts = []
    for term in re.split(r"\s*\+\s*", expr.strip()):
        m = re.fullmatch(r"""(['"`])(.*)\1""", term, re.S)
        if m and not (m.group(1) == "`" and "${" in m.group(2)):
            parts.append(m.group(2))
        else:
            parts.append(None)
    return parts


def web_calls(root=ROOT):
    calls, stray = [], []
    wdir = os.path.join(root, "web")
    for fn in sorted(os.listdir(wdir)):
        if not fn.endswith((".mjs", ".js")):
            continue
        rel = "web/" + fn
        code = js_code(open(os.path.join(wdir, fn)).read())
        used = set()
        for m in re.finditer(r"\.(request|raw|stream)\(", code):
            args = split_args(code[m.end():])
            if m.group(1) == "stream":
                methods, expr = ["GET"], args[0] if args else ""
            else:
                mm = re.fullmatch(r"""['"]([A-Z]+)['"]""", args[0] if args else "")
                if not mm or len(args) < 2:
                    continue                    # a helper passing its method on
                methods, expr = [mm.group(1)], args[1]
            src = expr
            if re.fullmatch(r"[A-Za-z_$][\w$]*", expr):
                decl = None
                for d in re.finditer(r"\b(?:let|const|var)\s+%s\s*=\s*" % re.escape(expr), code[:m.start()]):
                    decl = d
                if not decl:
                    continue                    # a parameter passed on: the helper's callers count
                src = split_args(code[decl.end():] + ";")[0].split(";")[0]
                used.add(decl.end())
            lits = [x.start() for x in API_LIT.finditer(code, m.end(), m.end() + len(",".join(args)) + 2)]
            used.update(lits)
            path = template(js_parts(src))
            calls.append(("%s:%d" % (rel, line_of(code, m.start())), methods, [path]))
        for lit in API_LIT.finditer(code):
            if lit.start() not in used and not any(u <= lit.start() < u + 200 for u in used):
                stray.append(("%s:%d" % (rel, line_of(code, lit.start())), lit.group(2)))
    return calls, stray


# ---- src/client/*.c ---------------------------------------------------------------------
def c_code(text):
    """Comments blanked, string contents kept."""
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), text)


def c_literal(expr):
    """The value of adjacent C string literals, or None."""
    lits = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    if not lits or re.sub(r'"((?:[^"\\]|\\.)*)"', "", expr).strip():
        return None
    return "".join(lits)


def _block_stacks(code):
    """For each position, the starts of the {} blocks enclosing it (strings and character
    constants skipped), as a tuple."""
    stack, out, q, i = [], [()] * (len(code) + 1), None, 0
    while i < len(code):
        c = code[i]
        out[i] = tuple(stack)
        if q:
            if c == "\\" and i + 1 < len(code):
                i += 1
                out[i] = tuple(stack)
            elif c == q:
                q = None
        elif c in "\"'":
            q = c
        elif c == "{":
            stack.append(i)
        elif c == "}" and stack:
            stack.pop()
        i += 1
    return out


def blocks(code):
    """For each position, the start of its innermost enclosing {} block (-1: none)."""
    return [st[-1] if st else -1 for st in _block_stacks(code)]


def enclosing(code, pos):
    """The starts of the blocks enclosing pos."""
    return set(_block_stacks(code[:pos + 1])[pos])


def cli_calls(root=ROOT):
    calls, stray = [], []
    cdir = os.path.join(root, "src", "client")
    for fn in sorted(os.listdir(cdir)):
        if not fn.endswith(".c"):
            continue
        rel = "src/client/" + fn
        code = c_code(open(os.path.join(cdir, fn)).read())
        owner = blocks(code)
        used = set()
        for m in re.finditer(r"\b(client_call|client_stream|client_upload)\s*\(", code):
            args = split_args(code[m.end():])
            if m.group(1) == "client_call":
                if len(args) < 3:
                    continue
                methods = re.findall(r'"([A-Z]+)"', args[1])
                pexpr = args[2]
            else:
                if len(args) < 2:
                    continue
                methods = ["PUT"] if m.group(1) == "client_upload" else ["GET"]
                pexpr = args[1]
            if not methods:
                continue                        # a helper passing its method on
            lit = c_literal(pexpr)
            if lit is not None:
                paths = [template([c_format(lit)])]
                used.add(m.start())
            else:
                var = re.fullmatch(r"[\w.>-]+", pexpr) and pexpr
                if not var:
                    continue
                encl = enclosing(code, m.start())
                member = re.fullmatch(r"\w+(?:\.|->)(\w+)", var)
                if member:
                    # a struct's buffer: filled anywhere in the file (c.path for c->path)
                    v = r"\w+(?:\.|->)%s" % member.group(1)
                    visible = lambda p: True
                    scope = code
                else:
                    v = re.escape(var)
                    visible = lambda p: owner[p] == -1 or owner[p] in encl
                    scope = code[:m.start()]
                base, base_pos, bases = None, -1, []
                for a in re.finditer(r"\b(?:snprintf|sprintf|strcpy)\s*\(\s*%s\s*," % v, scope):
                    if not visible(a.start()):
                        continue
                    aargs = split_args(code[a.end():])
                    fmt = None
                    for x in aargs:
                        fmt = c_literal(x)
                        if fmt is not None:
                            break
                    if fmt is not None:
                        base, base_pos = fmt, a.start()
                        bases.append(fmt)
                        used.add(a.start())
                for a in re.finditer(r"\bchar\s+%s\s*\[[^]]*\]\s*=\s*(\"[^\n;]*\")\s*;" % v, scope):
                    if visible(a.start()):
                        used.add(a.start())
                        if a.start() > base_pos:
                            base, base_pos = c_literal(a.group(1)), a.start()
                if base is None:
                    continue                    # a parameter passed on
                paths = [template([c_format(b)]) for b in (bases if member else [base])]
                for a in re.finditer(r"\bstrcat\s*\(\s*%s\s*,\s*(\"(?:[^\"\\]|\\.)*\")\s*\)" % v,
                                     code[base_pos:m.start()]):
                    if visible(base_pos + a.start()):
                        suf = c_literal(a.group(1))
                        used.add(base_pos + a.start())
                        paths += [template([c_format(base + suf)])]
            calls.append(("%s:%d" % (rel, line_of(code, m.start())), methods, sorted(set(paths))))
        for lit in API_LIT.finditer(code):
            # a literal on a line that fed a call is explained
            ln = line_of(code, lit.start())
            if not any(line_of(code, u) == ln for u in used):
                stray.append(("%s:%d" % (rel, ln), lit.group(2)))
    return calls, stray


# ---- matching against the document ---------------------------------------------------
def _deref(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj and doc is not None:
        node = doc
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def _enums(doc, item, op):
    """{path parameter: its enum} of a path item and its operation."""
    out = {}
    for p in (item.get("parameters") or []) + ((op or {}).get("parameters") or []):
        p = _deref(doc, p)
        if isinstance(p, dict) and p.get("in") == "path":
            enum = _deref(doc, p.get("schema") or {}).get("enum")
            if enum:
                out[p["name"]] = [str(e) for e in enum]
    return out


def doc_has(doc_paths, method, path, doc=None):
    """Whether path (with {} wildcards) matches a documented path with that method (None:
    any method). A literal segment in the place of a path parameter with an enum (the
    action of /vms/{name}/{action}) must be one of its values."""
    segs = path.strip("/").split("/")
    for tmpl, item in doc_paths.items():
        t = tmpl.strip("/").split("/")
        if len(t) != len(segs):
            continue
        for m in ([method.lower()] if method else [k for k in item if k != "parameters"]):
            if m not in item:
                continue
            enums = _enums(doc, item, item[m])
            if all(a == "{}" or a == b or (b.startswith("{") and
                                           (b[1:-1] not in enums or a in enums[b[1:-1]]))
                   for a, b in zip(segs, t)):
                return True
    return False


def check(doc, calls):
    """Problems (strings) of calls against the document (its parsed YAML)."""
    bad = []
    for where, methods, paths in calls:
        for meth in methods:
            if not any(doc_has(doc["paths"], meth, p, doc) for p in paths):
                bad.append("%s: %s %s is not an operation of docs/api.yaml" % (where, meth, " or ".join(paths)))
    return bad


if __name__ == "__main__":
    for name, fn in (("web", web_calls), ("cli", cli_calls)):
        calls, stray = fn()
        for c in calls:
            print(name, c)
        for s in stray:
            print(name, "stray", s)
