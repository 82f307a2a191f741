#!/usr/bin/env python3
"""Finds import cycles between the files of src/. A file imports another when one of its `use`
trees (nested groups, `self`, globs and aliases expanded) or one of its paths in code
(`super::x`, `crate::a::b`, `self::x`, a child module's `b::x`, `situation_wall::x` in main.rs)
names an item of that file. A name that a module only re-exports (`pub use child::Item;`) is
followed to the file that defines it, so `super::Item` through a `mod.rs` is an import of the
defining file, not of `mod.rs`. Declaring a child module (`mod b;`) is not an import.

Unit-test modules (`#[cfg(test)] mod tests`, last in a file by convention) are left out: they
are children that may use anything. Prints each cycle and exits 1 if there is one.

Usage: tools/import_cycles.py [SRC_DIR]"""

import os
import re
import sys

src = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src"))
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def module_path(file):
    rel = os.path.relpath(file, src)[:-3].split(os.sep)
    if rel == ["main"]:
        return ("<main>",)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


files = {}
for root, _, names in os.walk(src):
    for n in names:
        if n.endswith(".rs"):
            f = os.path.join(root, n)
            files[module_path(f)] = f


def code_of(file):
    text = open(file, encoding="utf-8").read()
    cut = re.search(r"^#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod tests\b", text, flags=re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # String literals may hold `::` and braces.
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def expand(tree):
    """The paths of one `use` tree (aliases already removed), each a list of segments; a glob
    keeps its `*`."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, s):
        # s is one tree: `a::b::{...}` or `a::b` or `{...}`.
        if s.startswith("{"):
            for part in split_group(s[1:-1]):
                walk(prefix, part)
            return
        i = s.find("::{")
        if i >= 0:
            walk(prefix + s[:i].split("::"), s[i + 2 :])
            return
        parts = [p for p in s.split("::") if p]
        if parts == ["self"]:
            out.append(prefix)
        else:
            out.append(prefix + parts)

    walk([], tree)
    return out


def split_group(body):
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return [p for p in parts if p]


codes = {m: code_of(f) for m, f in files.items()}
# `use` trees, with aliases removed before expanding (`a::b as c` -> `a::b`).
uses = {m: [expand(re.sub(r"\s+as\s+" + IDENT, "", t)) for t in re.findall(r"\buse\s+([^;]+);", c)] for m, c in codes.items()}
children = {m: set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", c, flags=re.M)) for m, c in codes.items()}


def absolute(mod, segs):
    """Segments made absolute from the crate root, or None for an external crate."""
    if not segs:
        return None
    head, rest = segs[0], segs[1:]
    base = mod if mod != ("<main>",) else ()
    if head == "crate" or (head == "situation_wall" and mod == ("<main>",)):
        return list(rest)
    if head == "super":
        b = list(base[:-1])
        while rest and rest[0] == "super":
            b, rest = b[:-1], rest[1:]
        return b + list(rest)
    if head == "self":
        return list(base) + list(rest)
    if head in children.get(mod, ()):
        return list(base) + segs
    return None


# Re-exports: (module, name) -> absolute path it stands for.
reexports = {}
for m, trees in uses.items():
    for t in re.findall(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", codes[m]):
        for p in expand(re.sub(r"\s+as\s+" + IDENT, "", t)):
            a = absolute(m, p)
            if a and p[-1] != "*":
                reexports[(m if m != ("<main>",) else (), p[-1])] = a


def target(path, depth=0):
    """The file a path names: the longest module prefix, through re-exports."""
    for n in range(len(path), -1, -1):
        mod = tuple(path[:n])
        if mod in files:
            via = reexports.get((mod, path[n])) if n < len(path) and depth < 8 else None
            # A re-exported name stands for where it comes from (unless that is this file).
            if via and target(via, depth + 1) != mod:
                return target(via + path[n + 1 :], depth + 1)
            return mod
    return None


edges = {m: set() for m in files}
for m in files:
    paths = [p for trees in uses[m] for p in trees]
    code = codes[m]
    for head in ["crate", "super", "self", "situation_wall"] + sorted(children[m]):
        for hit in re.finditer(r"(?<![:\w])" + head + r"((?:::" + IDENT + r")+)", code):
            paths.append([head] + [s for s in hit.group(1).split("::") if s])
    for p in paths:
        a = absolute(m, [s for s in p if s != "*"])
        if a is None:
            continue
        t = target(a)
        if t is not None and t != m:
            edges[m].add(t)

cycles, state, stack = [], {}, []


def visit(m):
    state[m] = 1
    stack.append(m)
    for t in sorted(edges[m]):
        if state.get(t) == 1:
            cycles.append(stack[stack.index(t) :] + [t])
        elif t not in state:
            visit(t)
    stack.pop()
    state[m] = 2


sys.setrecursionlimit(10000)
for m in sorted(files):
    if m not in state:
        visit(m)

name = lambda m: "::".join(m) or "crate"
for c in cycles:
    print("import cycle: " + " -> ".join(name(m) for m in c))
print(f"{len(files)} files, {sum(len(e) for e in edges.values())} imports between them, {len(cycles)} cycle(s)")
sys.exit(1 if cycles else 0)
