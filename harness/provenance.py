"""Which source a run's result depends on: the hash of every local module on the run's path.

A run id must change whenever code that can change its numbers changes, so that a changed method
never pools with old results, and must not change when only a comment, a docstring or the layout of
the code changes, so that finished runs survive a formatter. The code of a run is not only the
modules that define its task and method classes: ``fuzzy`` evaluates atoms with
:mod:`harness.atoms`, the semantic loss compiles with ``methods/_sdd/``, the MNIST tasks build their
network in ``tasks/nets.py``, and the training loop (:mod:`harness.loop`: the optimiser, the
learning-rate schedule, batching, evaluation) drives all of them. :func:`code_hash` therefore walks
the ``import`` statements of a module, transitively, over every *local* module (a file of this
repository's ``harness``, ``methods`` and ``tasks`` packages, or a file in the directory of an
out-of-tree plug-in), and hashes the *code* of each: its syntax tree with docstrings removed, written
back as canonical source (:func:`ast.unparse`), so comments, docstrings, line breaks and quoting do
not count. A run's key holds three such hashes: the task's, the method's and the loop's
(:data:`LOOP_MODULE`). Third-party packages (torch, PySDD, ...) are recorded by version in each row
instead (:mod:`harness.records`).

The walk reads the source with :mod:`ast` (nothing is imported by it); it follows ``import a.b``,
``from a import b`` (``b`` a module or a name of ``a``) and relative imports, at any depth of the
module (imports inside functions count too: they run when the code does).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("harness", "methods", "tasks")
#: the module that runs every training step and evaluation; its import closure is in every run's id
LOOP_MODULE = "harness.loop"


def _local_roots(cls: type) -> tuple[str, ...]:
    """Directories whose modules count as local for ``cls``: the repository's packages, and the
    directory of ``cls``'s own file when it lies outside them (an out-of-tree plug-in)."""
    roots = [os.path.join(REPO, p) for p in PACKAGES]
    f = defining_file(cls)
    if f and not any(_under(f, r) for r in roots):
        roots.append(os.path.dirname(f))
    return tuple(roots)


def _under(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), root]) == root


def defining_file(cls: type) -> str | None:
    """Absolute path of the file that defines ``cls`` (None for a class without a source file)."""
    try:
        return os.path.abspath(inspect.getsourcefile(cls) or inspect.getfile(cls))
    except (TypeError, OSError):
        return None


def display_path(path: str | None) -> str | None:
    """``path`` relative to the repository when it lies inside it, else absolute."""
    if path is None:
        return None
    return os.path.relpath(path, REPO) if _under(path, REPO) else path


def _module_file(name: str) -> str | None:
    """The source file of module ``name`` (already imported or importable), or None."""
    mod = sys.modules.get(name)
    f = getattr(mod, "__file__", None) if mod is not None else None
    if f is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            return None
        f = spec.origin if spec is not None and spec.has_location else None
    return os.path.abspath(f) if f and f.endswith(".py") else None


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Module names an AST imports (for ``from a import b``: both ``a`` and ``a.b``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                pkg = ".".join(base + ([node.module] if node.module else []))
            else:
                pkg = node.module or ""
            if pkg:
                out.add(pkg)
                out.update(f"{pkg}.{a.name}" for a in node.names if a.name != "*")
    return out


@functools.lru_cache(maxsize=None)
def _closure(module: str, roots: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(file, name) of every local module reached from ``module``, ``module`` included, sorted."""
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or path in seen or not any(_under(path, r) for r in roots):
            continue
        seen[path] = name
        with open(path, "rb") as f:
            src = f.read()
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        todo.extend(_imported_names(tree, name, os.path.basename(path) == "__init__.py"))
    return tuple(sorted(seen.items()))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Remove the docstring of the module and of every class and function of ``tree`` (in place)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def _code_cached(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as f:
        src = f.read()
    try:
        return ast.unparse(_strip_docstrings(ast.parse(src)))
    except SyntaxError:  # not Python that parses here: its bytes count as they are
        return src.decode("utf-8", "replace")


def normalized_code(path: str) -> str:
    """The code of a Python file as it counts for a run id: the syntax tree without docstrings,
    written back by :func:`ast.unparse` (comments, blank lines, line breaks and quoting gone)."""
    st = os.stat(path)
    return _code_cached(path, st.st_mtime_ns, st.st_size)


def local_modules(cls: type) -> list[str]:
    """Files (shown relative to the repository) of every local module ``cls``'s module imports."""
    return [display_path(p) for p, _ in _closure(cls.__module__, _local_roots(cls))]


def _hash_files(files: tuple[tuple[str, str], ...]) -> "hashlib._Hash":
    h = hashlib.sha256()
    for path, name in files:
        h.update(name.encode() + b"\0")
        h.update(normalized_code(path).encode())
        h.update(b"\0")
    return h


def code_hash(cls: type) -> str:
    """Hash (12 hex digits) of the code of ``cls``'s module and every local module it imports,
    transitively, with its ``version`` (see the module docstring)."""
    files = _closure(cls.__module__, _local_roots(cls))
    h = _hash_files(files)
    if not files:  # a class without a source file (defined interactively): its name only
        h.update(cls.__qualname__.encode())
    h.update(f"version={getattr(cls, 'version', None)}".encode())
    return h.hexdigest()[:12]


def loop_modules() -> list[str]:
    """Files (relative to the repository) of the training loop's module and its local imports."""
    return [display_path(p) for p, _ in _closure(LOOP_MODULE, _package_roots())]


def loop_hash() -> str:
    """Hash (12 hex digits) of the code of the training loop and every local module it imports."""
    return _hash_files(_closure(LOOP_MODULE, _package_roots())).hexdigest()[:12]


def _package_roots() -> tuple[str, ...]:
    return tuple(os.path.join(REPO, p) for p in PACKAGES)
