"""docs/api.yaml as the server serves it (GET /api/v1/openapi.yaml):
- valid OpenAPI 3 for a standard validator (@apidevtools/swagger-parser from npm, installed
  by mk/npm.sh into build/npm), which also rejects a flow mapping that turns words after
  commas into keys;
- the answer checker of lib.py (openapi_check.py) catches a field added, dropped or renamed,
  an undocumented status and a bad error body;
- a client generated from it (@hey-api/openapi-ts, type-checked with tsc --strict) logs in,
  lists the VMs and starts one against this server;
- every API call of the web console (web/*.mjs) and of the CLI (src/client/*.c) is an
  operation of the document (api_calls.py reads them from the source)."""
import json, os, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import lib
from lib import *
import api_calls, openapi_check

NPM = os.path.join(ROOT, "build", "npm")
tmp = tempfile.mkdtemp(prefix="vsrv-openapi.")


def run(args, timeout=300, cwd=None):
    p = subprocess.run(args, cwd=cwd or ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


rc, out = run(["bash", os.path.join(ROOT, "mk", "npm.sh")], timeout=600)
tools = ok("openapi-npm-tools-installed", rc == 0, "mk/npm.sh failed: " + out[-1500:])

d = Daemon(os.path.join(tmp, "data")).start()
try:
    adm = d.login("admin", "adminpass1")
    st, served = d.req("GET", "/api/v1/openapi.yaml", token=adm)
    doc_path = os.path.join(tmp, "api.yaml")
    with open(doc_path, "wb") as f:
        f.write(served if isinstance(served, bytes) else b"")
    ok("openapi-served-is-docs-api-yaml", st == 200 and served == open(openapi_check.DOC, "rb").read(),
       "status %s; the served document differs from docs/api.yaml (rebuild?)" % st)

    # --- the standard validator, on the served document --------------------------------
    if tools:
        rc, out = run(["node", "tests/api/validate.mjs", doc_path])
        ok("openapi-document-valid", rc == 0 and out.startswith("valid"), "\n" + out[-4000:])
        print("# " + out.strip().splitlines()[0], flush=True)
        # The mistake issue 19 found: a flow mapping whose description has commas.
        bad = served.replace(b"\n  schemas:\n", b"\n  schemas:\n    Bad:\n      type: object\n"
                             b"      properties:\n        ops: {type: integer, description: discard, "
                             b"write-zeroes, UNMAP}\n", 1)
        bad_path = os.path.join(tmp, "bad.yaml")
        with open(bad_path, "wb") as f:
            f.write(bad)
        rc, out = run(["node", "tests/api/validate.mjs", bad_path])
        ok("openapi-validator-rejects-flow-mapping-keys", bad != served and rc != 0 and
           "/components/schemas/Bad/properties/ops" in out and "write-zeroes" in out, out[-1500:])

    # --- the answer checker catches what it must -----------------------------------------
    doc = openapi_check.Document(doc_path)
    d.req("POST", "/api/v1/disks", {"name": "cd1", "size": 1 << 20}, token=adm)
    shutil.copy(os.path.join(GUESTS, "console.elf"), os.path.join(d.data, "images"))
    st, vm = d.req("POST", "/api/v1/vms", {"name": "cvm", "kernel": "console.elf", "memory_mib": 32,
                                           "disks": [{"disk": "cd1"}]}, token=adm)
    st2, full = d.req("GET", "/api/v1/vms/cvm", token=adm)
    ok("openapi-check-real-vm-matches", st == 201 and st2 == 200 and
       doc.check("GET", "/api/v1/vms/cvm", 200, "application/json", json.dumps(full)) == [],
       str((st, st2, full)))

    def caught(name, method, path, status, body, *want):
        errs = doc.check(method, path, status, "application/json",
                         body if isinstance(body, (str, bytes)) else json.dumps(body))
        text = "\n".join(errs)
        ok("openapi-check-catches-" + name, errs and all(w in text for w in want),
           "expected %r in: %r" % (want, errs))
    if st2 == 200:
        caught("added-field", "GET", "/api/v1/vms/cvm", 200, dict(full, colour="red"),
               "GET /api/v1/vms/{name} -> 200", "$:", "'colour' was unexpected")
        caught("dropped-field", "GET", "/api/v1/vms/cvm", 200,
               {k: v for k, v in full.items() if k != "nics"}, "$:", "'nics' is a required property")
        renamed = {("memory" if k == "memory_mib" else k): v for k, v in full.items()}
        caught("renamed-field", "GET", "/api/v1/vms/cvm", 200, renamed, "'memory_mib' is a required property",
               "'memory' was unexpected")
        # issue 10 item 18: the VMM's counters in place of the configured disks
        counters = dict(full, disks=[{"name": "disk0", "device": "virtio-blk0", "bus": "virtio-blk",
                                      "read_ops": 0, "write_ops": 0, "flush_ops": 0, "discard_ops": 0,
                                      "read_bytes": 0, "write_bytes": 0, "errors": 0}])
        caught("counters-for-configuration", "GET", "/api/v1/vms/cvm", 200, counters,
               "$.disks[0]: 'disk' is a required property")
        caught("nested-type", "GET", "/api/v1/vms/cvm", 200,
               dict(full, runtime={"pid": "12"}), "$.runtime.pid: '12' is not of type")
    caught("undocumented-status", "POST", "/api/v1/login", 418, {"error": {"code": "internal", "message": "x"}},
           "POST /api/v1/login -> 418: status 418 is not documented")
    caught("bad-error-body", "GET", "/api/v1/vms/nope", 404, {"error": {"code": "not_found"}},
           "GET /api/v1/vms/{name} -> 404", "$.error: 'message' is a required property")
    caught("unknown-error-code", "GET", "/api/v1/vms/nope", 404, {"error": {"code": "gone", "message": "x"}},
           "$.error.code: 'gone' is not one of")
    caught("undocumented-endpoint", "GET", "/api/v1/nothing", 200, {"a": 1}, "no path of docs/api.yaml matches")
    caught("body-where-none", "DELETE", "/api/v1/vms/cvm", 204, {"deleted": True},
           "DELETE /api/v1/vms/{name} -> 204: the answer has a body")

    # --- a generated client, against this server ----------------------------------------
    if tools:
        cdir = os.path.join(tmp, "client")
        os.makedirs(cdir)
        shutil.copy(os.path.join(ROOT, "tests", "api", "client-test.ts"), cdir)
        bin_ = os.path.join(NPM, "node_modules", ".bin")
        # (in cdir: on an error the generator writes openapi-ts-error-*.log into its directory)
        rc, out = run([os.path.join(bin_, "openapi-ts"), "-i", doc_path, "-o", os.path.join(cdir, "gen")],
                      cwd=cdir)
        gen = ok("openapi-client-generated", rc == 0 and os.path.exists(os.path.join(cdir, "gen", "sdk.gen.ts")),
                 out[-2000:])
        if gen:
            rc, out = run([os.path.join(bin_, "tsc"), "--strict", "--skipLibCheck", "--module", "commonjs",
                           "--target", "es2022", "--lib", "es2022,dom,dom.iterable", "--outDir",
                           os.path.join(cdir, "js"), os.path.join(cdir, "client-test.ts")])
            gen = ok("openapi-client-type-checks", rc == 0, out[-3000:])
        if gen:
            st, _ = d.req("POST", "/api/v1/vms", {"name": "gvm", "kernel": "console.elf", "memory_mib": 32},
                          token=adm)
            rc, out = run(["node", os.path.join(cdir, "js", "client-test.js"), "http://127.0.0.1:%d" % d.port,
                           "admin", "adminpass1", "gvm"], timeout=60)
            try:
                res = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                res = {}
            ok("openapi-client-login", rc == 0 and res["login"]["status"] == 200 and
               res["login"]["expires_in"] > 0, out[-1500:])
            ok("openapi-client-list-vms", res.get("list", {}).get("status") == 200 and
               "gvm" in res["list"]["names"] and res["list"]["total"] >= 2, out[-1500:])
            ok("openapi-client-start-vm", res.get("start", {}).get("status") == 202 and
               res["start"]["name"] == "gvm" and res.get("status", {}).get("status") == 200, out[-1500:])
            ok("openapi-client-typed-error", res.get("missing") == {"status": 404, "code": "not_found"},
               out[-1500:])
            if have_kvm():
                js = d.wait_state(adm, "gvm", ("running",), 15)
                ok("openapi-client-started-vm-runs", js is not None, str(js))
            else:
                skip("openapi-client-started-vm-runs", "no usable /dev/kvm")
            d.req("POST", "/api/v1/vms/gvm/off", token=adm)

    # --- the web console and the CLI call only documented operations ---------------------
    paths = doc.raw["paths"]
    for name, fn, least in (("web", api_calls.web_calls, 15), ("cli", api_calls.cli_calls, 15)):
        calls, stray = fn()
        bad = api_calls.check(doc.raw, calls)
        bad += ["%s: %s is not a path of docs/api.yaml" % (w, p) for w, p in stray
                if not api_calls.doc_has(paths, None, api_calls.template([api_calls.c_format(p)]), doc.raw)]
        print("# %s: %d calls read from the source%s" % (name, len(calls), "; paths no call explains: " +
              ", ".join("%s %s" % s for s in stray) if stray else ""), flush=True)
        ok("openapi-%s-calls-documented" % name, len(calls) >= least and not bad,
           ("only %d calls found (the reader in tests/server/api_calls.py missed the rest?)" % len(calls)
            if len(calls) < least else "; ".join(bad)))
    # the readers find calls made in the ways the sources make them, and flag undocumented ones
    fake = os.path.join(tmp, "fake")
    os.makedirs(os.path.join(fake, "src", "client"))
    os.makedirs(os.path.join(fake, "web"))
    with open(os.path.join(fake, "src", "client", "x.c"), "w") as f:
        f.write('int f(struct client *cl, const char *seg, int del)\n{\n\tchar path[64];\n'
                '\tsnprintf(path, sizeof(path), "/api/v1/vms/%s", seg);\n'
                '\tif (del) {\n\t\tsnprintf(path, sizeof(path), "/api/v1/vms/%s/snapshot", seg);\n'
                '\t\treturn client_call(cl, "POST", path, NULL, NULL);\n\t}\n'
                '\treturn client_call(cl, del ? "PUT" : "GET", path, NULL, NULL);\n}\n')
    with open(os.path.join(fake, "web", "x.mjs"), "w") as f:
        f.write("export const a = (api, n) => api.request('PUT', '/api/v1/vms/' + seg(n) + '/status');\n"
                "// api.request('DELETE', '/api/v1/ignored-in-a-comment')\n")
    fc, _ = api_calls.cli_calls(fake)
    fw, _ = api_calls.web_calls(fake)
    ok("openapi-calls-check-catches-undocumented",
       api_calls.check(doc.raw, fc + fw) ==
       ["src/client/x.c:7: POST /api/v1/vms/{}/snapshot is not an operation of docs/api.yaml",
        "src/client/x.c:9: PUT /api/v1/vms/{} is not an operation of docs/api.yaml",
        "web/x.mjs:1: PUT /api/v1/vms/{}/status is not an operation of docs/api.yaml"],
       str(api_calls.check(doc.raw, fc + fw)))
    ok("openapi-calls-check-catches-undocumented-paths",
       api_calls.check(doc.raw, [("x.c:1", ["POST"], ["/api/v1/vms/{}/status"]),
                               ("x.c:2", ["GET"], ["/api/v1/volumes"])]) ==
       ["x.c:1: POST /api/v1/vms/{}/status is not an operation of docs/api.yaml",
        "x.c:2: GET /api/v1/volumes is not an operation of docs/api.yaml"])
finally:
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)

sys.exit(1 if lib.fails else 0)
