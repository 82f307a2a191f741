#!/usr/bin/env python3
"""Finds import cycles between the files of src/: a file imports another when it names it
through `use` or a path (`super::x`, `crate::a::b`, `self::x`). Prints each cycle found and
exits 1 if there is one, 0 otherwise. Unit-test modules (`#[cfg(test)] mod tests`) are left
out: they are children that may use anything. Declaring a child module (`mod b;`) is not an import;
using its items is.

Usage: tools/import_cycles.py [SRC_DIR]"""

import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
src = os.path.normpath(src)


def module_path(file):
    rel = os.path.relpath(file, src)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


files = {}
for root, _, names in os.walk(src):
    for n in names:
        if n.endswith(".rs"):
            f = os.path.join(root, n)
            files[module_path(f)] = f

path_re = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def strip_comments(text):
    # A file's unit tests (`#[cfg(test)] mod tests { .. }`, last by convention) are a child
    # module of their own: they may use test helpers that build the whole app.
    cut = re.search(r"^#\[cfg\(test\)\]\s*mod tests\b", text, flags=re.M)
    if cut:
        text = text[: cut.start()]
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def resolve(mod, head, rest):
    if head == "crate":
        base = ()
    elif head == "super":
        base = mod[:-1]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    else:
        base = mod
    parts = base + tuple(rest)
    # The longest prefix that is a file.
    for n in range(len(parts), 0, -1):
        if parts[:n] in files:
            return parts[:n]
    return None


edges = {m: set() for m in files}
for mod, f in files.items():
    text = strip_comments(open(f, encoding="utf-8").read())
    # `use super::{a, b}` groups: expand the first level.
    for m in re.finditer(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}", text):
        head, rest = m.group(1), [p for p in m.group(2).split("::") if p]
        for item in m.group(3).split(","):
            name = item.strip().split("::")[0].split(" ")[0]
            if name and name != "self":
                t = resolve(mod, head, rest + [name])
                if t and t != mod:
                    edges[mod].add(t)
    # Paths through the file's own child modules (`mod b;` then `b::x`).
    for child in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", text, flags=re.M):
        for m in re.finditer(r"(?<![:\w])" + child + r"((?:::[A-Za-z_][A-Za-z0-9_]*)+)", text):
            t = resolve(mod, "self", [child] + [p for p in m.group(1).split("::") if p])
            if t and t != mod:
                edges[mod].add(t)
    for m in path_re.finditer(text):
        head, rest = m.group(1), [p for p in m.group(2).split("::") if p]
        t = resolve(mod, head, rest)
        if t and t != mod:
            edges[mod].add(t)

# A parent's `mod child;` declaration is not an import (it is not a path), but a parent
# using its child's items is: then the child must not use the parent's.
cycles = []
state = {}
stack = []


def visit(m):
    state[m] = 1
    stack.append(m)
    for t in sorted(edges[m]):
        if state.get(t) == 1:
            cycles.append(stack[stack.index(t):] + [t])
        elif t not in state:
            visit(t)
    stack.pop()
    state[m] = 2


for m in sorted(files):
    if m not in state:
        visit(m)

name = lambda m: "::".join(m) or "crate"
for c in cycles:
    print("import cycle: " + " -> ".join(name(m) for m in c))
print(f"{len(files)} files, {sum(len(e) for e in edges.values())} imports between them, {len(cycles)} cycle(s)")
sys.exit(1 if cycles else 0)
