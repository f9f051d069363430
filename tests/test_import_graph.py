"""No import circles in rtcore/, devices/ or sims/.

The graph is read from the sources with the standard library's `ast`, so a reader can run the
same check without importing anything: every `import` and `from ... import` counts, at module
level and inside functions alike (a function-level import that dodges a circle is still one).
An edge goes to the module named, or to `pkg.name` when `from pkg import name` names a module.
Parent packages that Python executes on the way are not edges (a package's __init__ importing
its own members is the normal shape).
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rtcore", "devices", "sims")


def modules() -> dict:
    """Module name -> source path, for every .py file of the three packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: dict) -> set:
    """The package modules that the file imports anywhere in its body."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_pkg else name.split(".")[:-1]
                here = here[:len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                if child in known:
                    found.add(child)
                elif base in known:
                    found.add(base)
    found.discard(name)
    return found


def graph() -> dict:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(edges: dict) -> list | None:
    """One import circle as [a, b, ..., a], or None (iterative depth-first search)."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(edges, WHITE)
    for root in sorted(edges):
        if color[root] != WHITE:
            continue
        stack = [(root, iter(sorted(edges[root])))]
        color[root] = GREY
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = BLACK
                stack.pop()
            elif color[nxt] == GREY:
                path = [n for n, _ in stack]
                return path[path.index(nxt):] + [nxt]
            elif color[nxt] == WHITE:
                color[nxt] = GREY
                stack.append((nxt, iter(sorted(edges[nxt]))))
    return None


def test_graph_sees_module_and_function_level_imports():
    edges = graph()
    assert "rtcore.dispatch" in edges and "devices.lsl.inlet" in edges and "sims.plants.cursor" in edges
    assert "rtcore.dispatch" in edges["rtcore.loop"]  # module level
    assert "rtcore.config" in edges["rtcore.xdf"]  # inside XdfRecorder.open
    assert "rtcore.bus" in edges["rtcore.stages.crash"]  # `from rtcore.bus import TICK`: the module


def test_find_cycle_names_the_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circles():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)
