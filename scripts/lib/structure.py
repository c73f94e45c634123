#!/usr/bin/env python3
"""Checks the shape of src/: no two files import each other, directly or round a circle,
and no file is longer than the limit (the generated diesel schema aside).

An import is a `use` of `crate::…`, `super::…` or `self::…` that names a module path;
it is resolved to the deepest file of src/ that path reaches (`crate::db::sessions::X`
→ src/db/sessions.rs). `mod x;` declarations are structure, not imports, and a file's
own test module is part of the file. Prints each circle and each long file, and exits 1
when there is any.

    scripts/lib/structure.py [--max-lines N]
"""
import argparse
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SRC = os.path.normpath(os.path.join(ROOT, "src"))
EXEMPT = {"db/schema.rs"}


def module_of(path):
    """`src/a/b.rs` → ['a', 'b']; `src/a/mod.rs` → ['a']; `src/lib.rs` → []."""
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] == "mod" or rel == ["lib"] or rel == ["main"]:
        rel = rel[:-1]
    return rel


def file_of(module):
    """The file that defines `module` (a list of names), if any."""
    base = os.path.join(SRC, *module) if module else None
    if base is None:
        return os.path.join(SRC, "lib.rs")
    for candidate in (base + ".rs", os.path.join(base, "mod.rs")):
        if os.path.isfile(candidate):
            return candidate
    return None


def deepest_file(path):
    """The deepest file a module path reaches: `db::sessions::ChatSession` → db/sessions.rs."""
    for end in range(len(path), 0, -1):
        found = file_of(path[:end])
        if found:
            return found
    return None


def strip_comments(text):
    return re.sub(r"//[^\n]*", "", text)


def use_paths(text):
    """Every path named by a `use` statement, with `{…}` groups expanded."""
    for statement in re.findall(r"\buse\s+([^;]+);", text):
        yield from expand(re.sub(r"\s+", " ", statement))


def expand(tree):
    tree = tree.replace(" as ", "@").replace(" ", "")
    brace = tree.find("{")
    if brace < 0:
        yield tree
        return
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    depth, start = 0, 0
    for i, c in enumerate(inner + ","):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            part = inner[start:i]
            start = i + 1
            if part:
                yield from expand(prefix + part)


def resolve(path, module):
    """The absolute module path of a path written inside `module`, or None when it names
    something outside the crate."""
    parts = [p for p in path.split("::") if p and p not in ("*",)]
    if not parts:
        return None
    if parts[0] == "crate":
        return parts[1:]
    if parts[0] in ("super", "self"):
        here = list(module)
        while parts and parts[0] in ("super", "self"):
            if parts.pop(0) == "super":
                here = here[:-1]
        return here + [p for p in parts if p != "self"]
    return None


def imports(path, text):
    """The files `path` refers to: through `use`, and through paths written inline
    (`crate::db::sessions::find(…)`, or `db::sessions::find(…)` after `use crate::db`).
    A trailing `#[cfg(test)] mod tests` is read as the submodule it is (its `super` is
    the file itself)."""
    text = strip_comments(text)
    body, marker, tests = text.partition("#[cfg(test)]\nmod tests")
    found = refers_to(path, module_of(path), body)
    if marker:
        found |= refers_to(path, module_of(path) + ["tests"], tests)
    return found


def refers_to(path, module, text):
    targets, aliases = [], {}
    for used in use_paths(text):
        name, _, alias = used.partition("@")
        target = resolve(name, module)
        if target is None:
            continue
        targets.append(target)
        if target and file_of(target):
            aliases[alias or target[-1]] = target
    for inline in re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text):
        target = resolve(inline, module)
        if target is not None:
            targets.append(target)
    for alias, target in aliases.items():
        for rest in re.findall(r"(?<![\w:])" + re.escape(alias) + r"((?:::\w+)+)", text):
            targets.append(target + rest.split("::")[1:])
    found = set()
    for target in targets:
        file = deepest_file(target)
        if file and os.path.normpath(file) != os.path.normpath(path):
            found.add(os.path.normpath(file))
    return found


def circles(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=600)
    args = parser.parse_args()
    graph, problems = {}, 0
    for directory, _, files in os.walk(SRC):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.normpath(os.path.join(directory, name))
            with open(path, encoding="utf-8") as source:
                text = source.read()
            graph[path] = imports(path, text)
            rel = os.path.relpath(path, SRC)
            lines = text.count("\n")
            if lines > args.max_lines and rel not in EXEMPT:
                print(f"too long: src/{rel} has {lines} lines (limit {args.max_lines})")
                problems += 1
    for circle in circles(graph):
        names = ", ".join("src/" + os.path.relpath(f, SRC) for f in circle)
        print(f"import circle: {names}")
        for file in circle:
            into = sorted(graph[file] & set(circle))
            for target in into:
                print(f"  src/{os.path.relpath(file, SRC)} -> src/{os.path.relpath(target, SRC)}")
        problems += 1
    files = len(graph)
    edges = sum(len(v) for v in graph.values())
    if problems:
        print(f"structure: {problems} problem(s) in {files} files ({edges} imports)")
        return 1
    print(f"structure: {files} files, {edges} imports, no circles, none over {args.max_lines} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
