"""ImportError: a module imported by the wrong path, or a name imported from the wrong module."""

from __future__ import annotations

import ast
import difflib
import re

from ...tracebacks import ErrorReport
from .code import (
    STDLIB_MODULES,
    Fix,
    ProjectCode,
    import_names,
    is_test_file,
    parses,
    stdlib_module,
)
from .edits import replace_spans, replace_statement
from .names import SIMILARITY_CUTOFF, crash_location

NO_MODULE = re.compile(r"No module named '(?P<module>[\w.]+)'")
CANNOT_IMPORT = re.compile(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'")

MODULE_PATH_CONFIDENCE = 0.8
MISSPELT_MODULE_CONFIDENCE = 0.7  # scaled by similarity
NAME_ELSEWHERE_CONFIDENCE = 0.8
MISSPELT_IMPORTED_NAME_CONFIDENCE = 0.8  # scaled by similarity


def import_statements(tree: ast.Module, line: int | None) -> list[ast.Import | ast.ImportFrom]:
    """Import statements covering `line` first, then every other one in the file."""
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    statements.sort(
        key=lambda n: (not (line and n.lineno <= line <= (n.end_lineno or n.lineno)), n.lineno)
    )
    return statements


def absolute_module(node: ast.ImportFrom, importer: str, project: ProjectCode) -> str:
    """The module an ImportFrom names, with a relative import resolved against the importer."""
    if not node.level:
        return node.module or ""
    package = project.module_name(importer).split(".")[:-1]
    if importer.endswith("__init__.py"):
        package = project.module_name(importer).split(".")
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, node.module] if node.module else base)


def module_candidates(project: ProjectCode, missing: str, importer: str) -> list[tuple[str, float]]:
    """Project modules (or stdlib ones) that `missing` most likely meant: the same module name in
    another package first, else the closest names. Test modules only for tests."""
    known = {
        name: path
        for name, path in import_names(project, importer).items()
        if path != importer and (is_test_file(importer) or not is_test_file(path))
    }
    last = missing.split(".")[-1]
    same_name = sorted(
        (name for name in known if name.split(".")[-1] == last and name != missing),
        key=lambda name: (name.count("."), name),
    )
    if same_name:
        return [(name, 1.0) for name in same_name[:2]]
    scored = [(name, similarity(last, name.split(".")[-1])) for name in known]
    if "." not in missing:
        scored += [(name, similarity(missing, name)) for name in STDLIB_MODULES]
    scored = [(name, ratio) for name, ratio in scored if ratio >= 0.8 and name != missing]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:2]


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def rewritten_import(
    node: ast.Import | ast.ImportFrom, missing: str, new: str, importer: str, project: ProjectCode
) -> str | None:
    """The statement with `missing` replaced by `new`, binding the same names as before."""
    if isinstance(node, ast.ImportFrom):
        module = absolute_module(node, importer, project)
        if module != missing and not module.startswith(missing + "."):
            return None
        return ast.unparse(
            ast.ImportFrom(module=new + module[len(missing) :], names=node.names, level=0)
        )
    kept = [alias for alias in node.names if alias.name != missing]
    broken = [alias for alias in node.names if alias.name == missing]
    if not broken:
        return None
    alias = broken[0]
    if alias.asname:
        fixed = f"import {new} as {alias.asname}"
    elif "." in missing:
        return None  # `import a.b` binds `a`; a new path would change what the code refers to
    elif "." in new:
        parent, name = new.rsplit(".", 1)
        fixed = f"from {parent} import {name}" if name == missing else f"import {new} as {missing}"
    else:
        fixed = f"import {new} as {missing}" if new != missing else f"import {new}"
    statements = [ast.unparse(ast.Import(names=kept))] if kept else []
    return "\n".join([*statements, fixed])


def wrong_module_path(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """`ModuleNotFoundError: No module named 'utils'` where the project has `pkg/utils.py` (or a
    module of a close name): point the import statement at the module that exists."""
    if report.exc_type not in ("ModuleNotFoundError", "ImportError"):
        return []
    match = NO_MODULE.search(report.message)
    location = crash_location(report, project)
    if not match or not location:
        return []
    missing = match.group("module")
    path, line = location
    tree = project.tree(path)
    if tree is None:
        return []
    candidates = module_candidates(project, missing, path)
    fixes = []
    for node in import_statements(tree, line):
        for new, ratio in candidates:
            statement = rewritten_import(node, missing, new, path, project)
            if statement is None:
                continue
            content = replace_statement(project.files[path], node, statement)
            if content is None or not parses(content):
                continue
            if ratio == 1.0:
                confidence = MODULE_PATH_CONFIDENCE * (1.0 if len(candidates) == 1 else 0.85)
                why = f"there is no module `{missing}`, the project has it as `{new}`"
            else:
                confidence = MISSPELT_MODULE_CONFIDENCE * ratio
                why = f"there is no module `{missing}`; the closest one is `{new}`"
            fixes.append(
                Fix(
                    path,
                    content,
                    f"In {path} line {node.lineno}, {why}: `{statement.splitlines()[-1]}`.",
                    round(confidence, 3),
                    "wrong_module_path",
                )
            )
        if fixes:
            return fixes
    return fixes


def wrong_imported_name(report: ErrorReport, project: ProjectCode) -> list[Fix]:
    """`ImportError: cannot import name 'helper' from 'utils'`: import it from the project module
    that defines it, or fix the name to the closest one `utils` has."""
    if report.exc_type != "ImportError":
        return []
    match = CANNOT_IMPORT.search(report.message)
    location = crash_location(report, project)
    if not match or not location or "partially initialized" in report.message:
        return []
    name, module = match.group("name"), match.group("module")
    path, line = location
    tree = project.tree(path)
    if tree is None:
        return []
    node = next(
        (
            n
            for n in import_statements(tree, line)
            if isinstance(n, ast.ImportFrom)
            and absolute_module(n, path, project) == module
            and any(alias.name == name for alias in n.names)
        ),
        None,
    )
    if node is None:
        return []
    fixes = name_from_other_module(project, path, node, name, module)
    fixes += closest_name_in_module(project, path, tree, node, name, module)
    return fixes


def name_from_other_module(
    project: ProjectCode, path: str, node: ast.ImportFrom, name: str, module: str
) -> list[Fix]:
    definers = [
        other
        for other in project.python_paths
        if other != path
        and not is_test_file(other)
        and project.module_name(other, path) != module
        and project.top_level_names(other).get(name) in ("def", "class", "assign")
    ]
    fixes = []
    for definer in sorted(definers, key=lambda p: (p.count("/"), p))[:2]:
        new_module = project.module_name(definer, path)
        moved = [alias for alias in node.names if alias.name == name]
        kept = [alias for alias in node.names if alias.name != name]
        statements = []
        if kept:
            statements.append(
                ast.unparse(ast.ImportFrom(module=node.module, names=kept, level=node.level))
            )
        statements.append(ast.unparse(ast.ImportFrom(module=new_module, names=moved, level=0)))
        content = replace_statement(project.files[path], node, "\n".join(statements))
        if content is None or not parses(content):
            continue
        fixes.append(
            Fix(
                path,
                content,
                f"`{name}` is not defined in `{module}` but in {definer}; {path} now imports it "
                f"from `{new_module}`.",
                round(NAME_ELSEWHERE_CONFIDENCE * (1.0 if len(definers) == 1 else 0.85), 3),
                "wrong_imported_name",
            )
        )
    return fixes


def closest_name_in_module(
    project: ProjectCode, path: str, tree: ast.Module, node: ast.ImportFrom, name: str, module: str
) -> list[Fix]:
    module_path = project.path_of_module(module, path)
    if module_path is not None:
        available = set(project.top_level_names(module_path))
    elif stdlib_module(module) is not None:
        available = set(dir(stdlib_module(module)))
    else:
        return []
    public = [n for n in available if not n.startswith("_")]
    matches = difflib.get_close_matches(name, public, n=1, cutoff=SIMILARITY_CUTOFF)
    if not matches:
        return []
    replacement = matches[0]
    ratio = difflib.SequenceMatcher(None, name, replacement).ratio()
    alias = next(a for a in node.names if a.name == name)
    names = [ast.alias(name=replacement, asname=a.asname) if a is alias else a for a in node.names]
    statement = ast.unparse(ast.ImportFrom(module=node.module, names=names, level=node.level))
    content = replace_statement(project.files[path], node, statement)
    if content is None:
        return []
    renamed = 0
    if alias.asname is None:
        # The code uses the name it imported: rename those uses too.
        new_tree = ast.parse(content)
        spans = [
            (n.lineno, n.col_offset, n.end_col_offset or 0)
            for n in ast.walk(new_tree)
            if isinstance(n, ast.Name) and n.id == name
        ]
        renamed = len(spans)
        content = replace_spans(content, spans, replacement)
    if not parses(content):
        return []
    return [
        Fix(
            path,
            content,
            f"`{module}` has no `{name}`; the closest name it defines is `{replacement}` "
            f"(similarity {ratio:.2f}); fixed the import and {renamed} use(s) in {path}.",
            round(MISSPELT_IMPORTED_NAME_CONFIDENCE * ratio, 3),
            "wrong_imported_name",
        )
    ]
