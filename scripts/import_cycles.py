#!/usr/bin/env python3
"""Lists the import cycles of src/: between files, and between top-level modules.

A file imports another when it names one of its items through a `use` path, an inline
`crate::`/`super::`/`self::` path, or a child module it declares. `#[cfg(test)]` module files
(`*_tests.rs`, `tests.rs`, `proptests.rs`) are left out: they import their parent by nature.

Usage: python3 scripts/import_cycles.py     (exit 1 if a file-level cycle exists; each cycle
is printed with the paths that tie it)
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def is_test_file(rel):
    base = os.path.basename(rel)
    return base in ("tests.rs", "proptests.rs") or base.endswith("_tests.rs")


def module_of(rel):
    """The module path of a file relative to src/: ('net', 'receive') for net/receive.rs."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    """The code without comments, string literals and inline `#[cfg(test)]` modules."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "' '", text)
    text = re.sub(r"//[^\n]*", " ", text)
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)
        if not m:
            return text
        depth, end = 0, len(text)
        for i in range(m.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                end = i + 1
                break
        text = text[: m.start()] + text[end:]


def use_paths(tree, prefix=()):
    """Expands a `use` tree (`a::{b, c::d}`) into paths."""
    tree = tree.strip()
    depth, start, parts = 0, 0, []
    brace = None
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                brace = i
            depth += 1
        elif ch == "}":
            depth -= 1
    if brace is None:
        head = [p for p in tree.split("::") if p]
        return [prefix + tuple(h.split(" as ")[0].strip() for h in head)]
    head = [p for p in tree[:brace].split("::") if p]
    inner = tree[brace + 1 : tree.rfind("}")]
    out = []
    depth = 0
    for i, ch in enumerate(inner + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            item = inner[start:i].strip()
            start = i + 1
            if item:
                out.extend(use_paths(item, prefix + tuple(head)))
    return out


def main():
    files = {}
    for root, _, names in os.walk(SRC):
        for name in names:
            if name.endswith(".rs"):
                rel = os.path.relpath(os.path.join(root, name), SRC)
                if not is_test_file(rel):
                    files[module_of(rel)] = rel
    # `#[path = "x.rs"] mod m;` puts x.rs at module path parent::m.
    for mod, rel in list(files.items()):
        text = open(os.path.join(SRC, rel)).read()
        for m in re.finditer(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)', text):
            target = os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1)))
            if target.endswith(".rs") and not is_test_file(target):
                files.pop(module_of(target), None)
                files[mod + (m.group(2),)] = target
    edges = {rel: set() for rel in files.values()}
    why = {}

    def absolute(mod, path):
        """`path` as written in module `mod`, from the crate root (None: not ours)."""
        if path[0] == "crate":
            return path[1:]
        if path[0] in ("super", "self"):
            base, rest = list(mod), list(path)
            while rest and rest[0] in ("super", "self"):
                if rest.pop(0) == "super" and base:
                    base.pop()
            return tuple(base) + tuple(rest)
        if path[0] in children_of[mod]:
            return mod + path
        return None

    def resolve(path, depth=0):
        """The file defining what `path` names; a re-export leads to where it is defined."""
        for n in range(len(path), 0, -1):
            if path[:n] in files:
                rel = files[path[:n]]
                if n < len(path) and depth < 10 and path[n] in reexports.get(rel, {}):
                    return resolve(reexports[rel][path[n]], depth + 1) or rel
                return rel
        return None

    codes = {rel: strip(open(os.path.join(SRC, rel)).read()) for rel in files.values()}
    children_of = {
        mod: set(re.findall(r"(?:^|\s)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", codes[rel]))
        for mod, rel in files.items()
    }
    # Re-exports (`pub use a::B;`) hand names on: they are not uses of their own.
    reexports = {}
    for mod, rel in files.items():
        for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", codes[rel]):
            for path in use_paths(m.group(1)):
                full = absolute(mod, path) if path else None
                if full:
                    reexports.setdefault(rel, {})[full[-1]] = full

    for mod, rel in files.items():
        code = re.sub(r"\bpub(?:\([^)]*\))?\s+use\s+[^;]+;", " ", codes[rel])
        children = children_of[mod]
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", code):
            paths.extend(use_paths(m.group(1)))
        paths.extend(tuple(p.split("::")) for p in re.findall(r"\b(?:crate|super|self)(?:::\w+)+", code))
        paths.extend(tuple(p.split("::")) for p in re.findall(r"\b(\w+(?:::\w+)+)", code)
                     if p.split("::")[0] in children)
        for path in paths:
            path = tuple(p for p in path if p)
            full = absolute(mod, path) if path else None
            if full is None:
                continue
            target = resolve(full)
            if target and target != rel:
                edges[rel].add(target)
                why.setdefault((rel, target), set()).add("::".join(path))

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

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in sorted(sccs):
        print("file cycle: " + " <-> ".join(comp))
        for a in comp:
            for b in sorted(edges[a] & set(comp)):
                print(f"    {a} -> {b}: {', '.join(sorted(why[(a, b)]))}")
    top = lambda rel: rel.split(os.sep)[0].removesuffix(".rs")
    module_edges = {(top(a), top(b)) for a, bs in edges.items() for b in bs if top(a) != top(b)}
    pairs = sorted({tuple(sorted(e)) for e in module_edges if (e[1], e[0]) in module_edges})
    for a, b in pairs:
        print(f"module cycle: {a} <-> {b}")
    print(f"{len(files)} files: {len(sccs)} file-level cycles, {len(pairs)} two-way module imports")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
