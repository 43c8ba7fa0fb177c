#!/usr/bin/env python3
"""List the import circles between the files of src/ and the imports that run from a lower
layer up to a higher one. An edge A -> B is any `crate::x::y` path in A (in `use` lines and in
code) that names B's module. Exit status 1 when there is a circle or an upward import, so
scripts/test.sh can keep them out.

Usage: scripts/dev/import_cycles.py [--quiet]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")

# Layers, bottom up (DESIGN.md); a file may import only from its own layer or below, and its
# own layer only without a circle. The first matching prefix decides.
LAYERS = [
    ["arch", "device", "paths", "progress"],
    ["run", "data", "tb", "safetensors"],
    ["nn", "metrics"],
    ["config"],
    ["gan", "search", "launch", "report", "compare", "diag"],
    ["cli"],
    ["commands"],
    ["main", "lib"],
]


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3]  # drop .rs
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return "::".join(parts)


def layer_of(module):
    top = module.split("::")[0]
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    return None


def strip_tests(text):
    # `#[cfg(test)] mod tests { ... }` at the end of a file: tests may use anything.
    m = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
    return text[: m.start()] if m else text


def main():
    files = {}
    for d, _, names in os.walk(ROOT):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                files[module_of(p)] = strip_tests(open(p, encoding="utf-8").read())
    modules = set(files)
    edges = {m: set() for m in modules}
    for m, text in files.items():
        paths = re.findall(r"crate::([a-z_0-9]+(?:::[a-z_0-9]+)*)", text)
        # `super::x` names a module beside this one: in a/b.rs (a::b) and in a/mod.rs (a)
        # alike, `super` is the parent of the file's module.
        parent = m.rsplit("::", 1)[0] if "::" in m else ""
        for s in re.findall(r"\bsuper::([a-z_0-9]+(?:::[a-z_0-9]+)*)", text):
            paths.append(f"{parent}::{s}" if parent else s)
        for p in paths:
            parts = p.split("::")
            # The longest prefix that is a module (a file), e.g. search::strategy::evolution.
            for k in range(len(parts), 0, -1):
                cand = "::".join(parts[:k])
                if cand in modules and cand != m:
                    edges[m].add(cand)
                    break
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                sccs.append(sorted(comp))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    up = []
    for a in sorted(edges):
        la = layer_of(a)
        for b in sorted(edges[a]):
            lb = layer_of(b)
            if la is not None and lb is not None and lb > la:
                up.append((a, b))
    quiet = "--quiet" in sys.argv
    for comp in sorted(sccs, key=len, reverse=True):
        print(f"circle of {len(comp)} files: {', '.join(comp)}")
    for a, b in up:
        print(f"upward import: {a} (layer {layer_of(a)}) -> {b} (layer {layer_of(b)})")
    if not quiet:
        print(f"{len(modules)} files, {sum(len(e) for e in edges.values())} imports, "
              f"{len(sccs)} circles, {len(up)} upward imports")
    sys.exit(1 if sccs or up else 0)


if __name__ == "__main__":
    main()
