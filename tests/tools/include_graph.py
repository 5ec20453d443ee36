#!/usr/bin/env python3
"""Include graph of src/server: which module includes which.

A module is a file name without its extension (api.c and api.h are the module "api"); an edge
A -> B means A.c or A.h has `#include "server/B.h"`. The graph must have no cycle (a strongly
connected component of more than one module, or a module including itself through others),
and a module of a lower layer must not include one of a higher layer (LAYERS below).

Usage: include_graph.py [--root DIR] [--dot] [--check]
  default  print every module's edges and every cycle found
  --dot    print the graph in Graphviz dot
  --check  print one line per problem; exit 1 if any
"""
import os
import re
import sys

INC = re.compile(r'^\s*#\s*include\s+"server/([A-Za-z0-9_]+)\.h"', re.M)

# Layers, from the top down. A module may include modules of its own layer or below.
# A module not listed is "service" (the default middle layer). Within the inventory, inv.h is
# the interface (with inv_log.h, its events, hooks and tasks), inv_front.c dispatches it through inv_ops.h to a backend: db.c and the
# inv_sqlite*.c files (SQLite), or the inv_etcd*.c files (etcd, on the etcd client, a base
# module); everything above goes through inv.h.
LAYERS = ["main", "http", "service", "inventory", "base"]

def layer_of(mod):
    if mod in ("main", "serve", "openapi", "monitor") or mod.startswith("serve_"):
        return "main"
    if mod == "api" or mod.startswith("api_") or mod.startswith("http_") or mod in ("http", "web"):
        return "http"
    if mod in ("inv", "inv_log", "inv_front", "inv_ops", "db") or mod.startswith(("inv_sqlite", "inv_etcd")):
        return "inventory"
    if mod in ("server", "valid", "timeutil") or mod.startswith("etcd"):
        return "base"
    return "service"

def read_graph(root):
    d = os.path.join(root, "src", "server")
    graph = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith((".c", ".h")):
            continue
        mod = name.rsplit(".", 1)[0]
        with open(os.path.join(d, name), encoding="utf-8") as f:
            text = f.read()
        deps = graph.setdefault(mod, set())
        for m in INC.findall(text):
            if m != mod:
                deps.add(m)
    for deps in list(graph.values()):
        for m in deps:
            graph.setdefault(m, set())
    return graph

def sccs(graph):
    """Tarjan's algorithm; returns the components of more than one module."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out

def is_impl(mod):
    """The inventory's SQLite implementation, private to the inventory."""
    return mod.startswith("inv_sqlite") or mod == "db"

def layer_violations(graph):
    bad = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            if LAYERS.index(layer_of(b)) < LAYERS.index(layer_of(a)):
                bad.append((a, layer_of(a), b, layer_of(b)))
            elif is_impl(b) and not is_impl(a):
                bad.append((a, layer_of(a), b, "sqlite"))
    return bad

def main(argv):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    if "--root" in argv:
        root = argv[argv.index("--root") + 1]
    graph = read_graph(root)
    comps = sccs(graph)
    if "--dot" in argv:
        print("digraph server {")
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print(f'  "{a}" -> "{b}";')
        print("}")
        return 0
    if "--check" in argv:
        n = 0
        for c in comps:
            print(f"cycle of {len(c)} modules: {' '.join(c)}")
            n += 1
        for a, la, b, lb in layer_violations(graph):
            why = "the inventory's implementation" if lb == "sqlite" else "a higher layer"
            print(f"{a} ({la}) includes {b} ({lb}), {why}")
            n += 1
        return 1 if n else 0
    for a in sorted(graph):
        print(f"{a} [{layer_of(a)}] -> {' '.join(sorted(graph[a]))}")
    for c in comps:
        print(f"cycle of {len(c)} modules: {' '.join(c)}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
