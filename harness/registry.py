"""String registry of tasks and methods: each plug-in is declared once, by a decorator on its class.

Keys are kebab-case (``cl-ste``); the version lives on the class (``version = 1``) and is recorded
in every result row as ``key-vN`` together with a hash of the plug-in's source.
Built-in plug-ins are every module of the ``methods`` and ``tasks`` packages; out-of-tree ones are
loaded with :func:`load_plugin` (``--plugin module.name`` or ``--plugin path/to/file.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys

from .errors import UserError, did_you_mean

METHODS: dict[str, type] = {}
TASKS: dict[str, type] = {}
_loaded = False


class KeyCollision(ValueError):
    """Two classes registered under one key; the message names both files."""


def _file(cls: type) -> str | None:
    import inspect

    try:
        return os.path.abspath(inspect.getsourcefile(cls) or inspect.getfile(cls))
    except (TypeError, OSError):
        return None


def _where(cls: type) -> str:
    import inspect

    from .provenance import display_path

    try:
        path = display_path(os.path.abspath(inspect.getsourcefile(cls) or inspect.getfile(cls)))
        line = inspect.getsourcelines(cls)[1]
        return f"{path} (line {line})"
    except (TypeError, OSError):
        return cls.__module__


def _register(kind: str, table: dict[str, type], cls: type) -> type:
    if not cls.key:
        raise ValueError(f"{cls.__name__} has no key")
    old = table.get(cls.key)
    if old is not None and old is not cls and _file(old) == _file(cls) and old.__qualname__ == cls.__qualname__:
        old = None  # the same plug-in file loaded again (a second command in one process): the newer class
    if old is not None and old is not cls:
        raise KeyCollision(
            f"{kind} key {cls.key!r} of {cls.__name__} in {_where(cls)} is already taken by "
            f"{old.__name__} in {_where(old)}; give the plug-in another key"
        )
    table[cls.key] = cls
    return cls


def register_method(cls):
    return _register("method", METHODS, cls)


def register_task(cls):
    return _register("task", TASKS, cls)


def load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for pkg_name in ("methods", "tasks"):
        pkg = importlib.import_module(pkg_name)
        for mod in pkgutil.iter_modules(pkg.__path__):
            if not mod.name.startswith("_"):
                importlib.import_module(f"{pkg_name}.{mod.name}")


def _import_error(spec: str, e: BaseException) -> UserError:
    """One line for a plug-in that does not import: the file and line of a syntax error, else the
    exception and the plug-in's own line that raised it."""
    if isinstance(e, SyntaxError):
        return UserError(
            f"plug-in {spec}: syntax error at {e.filename or spec}, line {e.lineno}: {e.msg}; fix the file"
        )
    where = ""
    tb = e.__traceback__
    while tb is not None:  # the innermost frame in the plug-in's own file
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(spec):
            where = f" (line {tb.tb_lineno})"
        tb = tb.tb_next
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return UserError(f"plug-in {spec} failed to import{where}: {type(e).__name__}: {msg}; fix the plug-in")


def load_plugin(spec: str) -> None:
    """Import an out-of-tree plug-in: a module name on sys.path or a path to a .py file. A plug-in
    that does not import (a syntax error, a missing module, any exception while it loads) is a
    one-line user error, and so is a plug-in whose key is already taken (by a built-in or by
    another plug-in): the built-ins are registered first, so the message names both files."""
    load_builtins()
    if spec.endswith(".py") or os.sep in spec:
        if not os.path.isfile(spec):
            raise UserError(f"plug-in file not found: {spec}")
        name = "nesybench_plugin_" + os.path.splitext(os.path.basename(spec))[0]
        s = importlib.util.spec_from_file_location(name, spec)
        mod = importlib.util.module_from_spec(s)
        sys.modules[name] = mod
        try:
            s.loader.exec_module(mod)
        except KeyCollision as e:
            del sys.modules[name]
            raise UserError(f"plug-in {spec}: {e}") from None
        except Exception as e:  # the user's file: any failure to load it is theirs to fix
            del sys.modules[name]
            raise _import_error(spec, e) from None
        return
    try:
        importlib.import_module(spec)
    except ModuleNotFoundError as e:
        if e.name and (spec == e.name or spec.startswith(e.name + ".")):
            raise UserError(f"plug-in module {spec!r} not found; give a module on PYTHONPATH or a .py path") from None
        raise _import_error(spec, e) from None
    except KeyCollision as e:
        raise UserError(f"plug-in {spec}: {e}") from None
    except Exception as e:
        raise _import_error(spec, e) from None


def _strip_version(key: str) -> str:
    base, _, v = key.rpartition("-v")
    return base if base and v.isdigit() else key


def _lookup(kind: str, table: dict[str, type], key: str) -> type:
    load_builtins()
    k = _strip_version(key)
    if k not in table:
        raise UserError(f"unknown {kind} {key!r}{did_you_mean(key, table)}; run 'nesybench list' to see them")
    cls = table[k]
    if k != key and key != f"{k}-v{cls.version}":
        raise UserError(f"{kind} {key!r}: this code has {k}-v{cls.version}")
    return cls


def get_method(key: str) -> type:
    return _lookup("method", METHODS, key)


def get_task(key: str) -> type:
    return _lookup("task", TASKS, key)
