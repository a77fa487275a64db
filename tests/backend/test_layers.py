"""The package's rooms and the one way data flows between them, checked from the imports themselves.

Each room (a top-level package or module of `underpaint`) may import only the
rooms listed for it in `MAY_IMPORT`. A new import against the flow fails here
with the module and line that made it; a new room fails until it is placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import underpaint

PACKAGE = Path(underpaint.__file__).resolve().parent

# Leaf modules: anything may import them; they import no other room.
LEAVES = {"errors", "images", "paths", "database", "blobs", "__init__", "__main__"}

# room -> the rooms it may import (leaves always allowed). The flow: cli -> api -> server -> jobs
# -> paint -> (styles, qc) -> (engines, takes) -> control -> shot.
MAY_IMPORT: dict[str, set[str]] = {
    "shot": set(),
    "control": {"shot"},
    "engines": {"control", "shot"},
    "takes": {"control", "shot"},
    "qc": {"takes", "shot", "control"},
    "styles": {"engines", "shot", "control", "takes"},
    "paint": {"styles", "qc", "engines", "takes", "control", "shot"},
    "jobs": {"paint", "styles", "engines", "takes", "control", "shot"},
    "cluster": {"engines", "control", "shot"},
    "server": {"jobs", "paint", "styles", "engines", "takes", "control", "shot"},
    "client": {"shot"},
    "api": {"cluster", "server", "jobs", "paint", "styles", "qc", "engines", "takes", "control", "shot"},
    "cli": {"api", "cluster", "server", "jobs", "paint", "styles", "qc", "engines", "takes", "control", "shot", "client"},
}


def room_of(module: str) -> str:
    """'underpaint.engines.animatediff.engine' -> 'engines'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every `underpaint.*` module `path` imports (relative imports resolved), with its line."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("underpaint.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "underpaint":  # `from underpaint import x`: a module, or a name of the package itself
                found += [
                    (f"underpaint.{alias.name}" if _is_module(alias.name) else "underpaint", node.lineno)
                    for alias in node.names
                ]
            elif target.startswith("underpaint."):
                found.append((target, node.lineno))
    return found


def _is_module(name: str) -> bool:
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def test_every_room_is_placed() -> None:
    rooms = {room_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert rooms - LEAVES <= set(MAY_IMPORT), f"place these rooms in MAY_IMPORT: {sorted(rooms - LEAVES - set(MAY_IMPORT))}"


def test_imports_run_one_way() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = room_of(module_name(path))
        for target, line in imports_of(path):
            room = room_of(target)
            if room == source or room in LEAVES or source in LEAVES and room in LEAVES:
                continue
            if source in LEAVES or room not in MAY_IMPORT.get(source, set()):
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} imports {target}")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_the_graph_has_no_cycle() -> None:
    """MAY_IMPORT itself runs one way (so the checked imports can never form a cycle between rooms)."""
    seen: dict[str, int] = {}

    def depth(room: str, path: tuple[str, ...] = ()) -> int:
        assert room not in path, f"cycle: {' -> '.join((*path, room))}"
        if room not in seen:
            seen[room] = 1 + max((depth(r, (*path, room)) for r in MAY_IMPORT[room]), default=0)
        return seen[room]

    for room in MAY_IMPORT:
        depth(room)
