"""The project's Python sources as the rules see them: parsed with `ast`, never imported."""

from __future__ import annotations

import ast
import importlib
import sys
import warnings
from dataclasses import dataclass
from types import ModuleType

STDLIB_MODULES = frozenset(name for name in sys.stdlib_module_names if not name.startswith("_"))
# Standard modules that do something when imported (open a browser, print, start a GUI).
UNSAFE_TO_IMPORT = frozenset({"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"})

TEST_FILE_PREFIXES = ("test_",)
TEST_FILE_SUFFIXES = ("_test.py",)


@dataclass(frozen=True)
class Fix:
    """One rule's answer for one file: the whole new content and why."""

    path: str
    content: str
    explanation: str
    confidence: float
    rule: str


def stdlib_module(name: str) -> ModuleType | None:
    """A standard-library module, imported to read its names; None for anything else. Project
    code is never imported: it is only ever parsed."""
    top = name.split(".")[0]
    if top not in STDLIB_MODULES or top in UNSAFE_TO_IMPORT:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module this platform lacks (e.g. winreg) is just unknown
        return None


def parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        name == "conftest.py"
        or name.startswith(TEST_FILE_PREFIXES)
        or name.endswith(TEST_FILE_SUFFIXES)
        or "/tests/" in f"/{path}"
    )


def normalise_filename(filename: str) -> str:
    filename = filename.replace("\\", "/")
    while filename.startswith("./"):
        filename = filename[2:]
    return filename


class ProjectCode:
    """The project's files, with lookups the rules share (parse trees are cached)."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self._trees: dict[str, ast.Module | None] = {}

    def with_file(self, path: str, content: str) -> ProjectCode:
        return ProjectCode({**self.files, path: content})

    @property
    def python_paths(self) -> list[str]:
        return sorted(path for path in self.files if path.endswith(".py"))

    def locate(self, filename: str) -> str | None:
        """Map a filename from a traceback (absolute inside the sandbox, or relative) to a key of
        `files`: an exact match, else the longest key the filename ends with."""
        if not filename:
            return None
        filename = normalise_filename(filename)
        if filename in self.files:
            return filename
        matches = [path for path in self.files if filename.endswith("/" + path)]
        return max(matches, key=len) if matches else None

    def tree(self, path: str) -> ast.Module | None:
        if path not in self._trees:
            try:
                self._trees[path] = ast.parse(self.files[path])
            except (SyntaxError, ValueError, KeyError):
                self._trees[path] = None
        return self._trees[path]

    def top_level_names(self, path: str) -> dict[str, str]:
        """Names a module binds at top level: {name: "def" | "class" | "assign" | "import"}."""
        tree = self.tree(path)
        return top_level_names(tree) if tree else {}

    def module_name(self, path: str, importer: str = "") -> str:
        """The dotted name `importer` would import `path` by.

        Inside packages (directories with `__init__.py`) the name starts at the topmost package;
        a module in a plain directory is imported by its bare name from that same directory, else
        by its path from the project root (a namespace package), without a leading `src`.
        """
        parts = path[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts.pop()
        directories = parts[:-1]
        top = len(directories)
        while top > 0 and "/".join(directories[:top]) + "/__init__.py" in self.files:
            top -= 1
        if top < len(directories):  # part of a package
            root = directories[:top]
            if root in ([], ["src"]):
                return ".".join(parts[top:])
            return ".".join(parts)
        importer_directory = importer.rsplit("/", 1)[0] if "/" in importer else ""
        if "/".join(directories) == importer_directory or not directories:
            return parts[-1]
        if directories[0] == "src":
            return ".".join(parts[1:])
        return ".".join(parts)

    def path_of_module(self, dotted: str, importer: str = "") -> str | None:
        """The project file that `importer` gets for `import dotted`, if any."""
        for path in self.python_paths:
            if self.module_name(path, importer) == dotted:
                return path
        return None

    def enclosing_scopes(self, path: str, line: int | None) -> list[ast.AST]:
        """Function and class definitions around `line`, outermost first."""
        tree = self.tree(path)
        if tree is None or line is None:
            return []
        scopes: list[ast.AST] = []
        node: ast.AST = tree
        while True:
            inner = next(
                (
                    child
                    for child in ast.iter_child_nodes(node)
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    and child.lineno <= line <= (child.end_lineno or child.lineno)
                ),
                None,
            )
            if inner is None:
                return scopes
            scopes.append(inner)
            node = inner


def top_level_names(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = "def"
        elif isinstance(node, ast.ClassDef):
            names[node.name] = "class"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.setdefault((alias.asname or alias.name).split(".")[0], "import")
        else:
            for target in assigned_names(node):
                names.setdefault(target, "assign")
    return names


def assigned_names(node: ast.AST) -> list[str]:
    """Names a simple statement binds (assignments, for targets, with ... as, walrus)."""
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor):
        targets = [node.target]
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in node.items if item.optional_vars]
    elif isinstance(node, ast.If | ast.Try):
        names: list[str] = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                names.extend(assigned_names(child))
        return names
    return [
        name.id
        for target in targets
        for name in ast.walk(target)
        if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store)
    ]


def names_bound_in(scope: ast.AST) -> set[str]:
    """Every name a function (or the whole module) binds anywhere inside it."""
    names: set[str] = set()
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        arguments = scope.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            names.add(arg.arg)
        for arg in (arguments.vararg, arguments.kwarg):
            if arg:
                names.add(arg.arg)
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node is not scope:
                names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def import_names(project: ProjectCode, importer: str) -> dict[str, str]:
    """Every project module by the dotted name `importer` would use: {dotted: path}."""
    return {project.module_name(path, importer): path for path in project.python_paths}
