"""Lazy registries of estimators, tasks and suites.

Registration is data: a name maps to an entry point ``"package.module:attr"`` (imported only when
the name is first *made*) plus default keyword arguments. Built-in entries come from the tables in
:mod:`mibench.estimators` and :mod:`mibench.tasks`; third-party packages add entries through the
entry-point groups ``mibench.estimators`` and ``mibench.tasks``.

Plug-ins are lazy too. The *names* of estimator entry points are read on the first look-up (never
at ``import mibench``); a plug-in's module is imported only when its name is made (or listed with
its kind), so a slow or broken plug-in costs nothing to ``estimate(x, y, "gaussian")``. A plug-in
estimator that fails to import raises :class:`PluginLoadError` naming it and its distribution.
Task plug-ins are loaded on the first task look-up (a task's id is known only from the task
itself); one that fails to load warns and is skipped.

Built-in estimator entries carry their ``kind`` as metadata (``("module:Class", "kind")`` in
:data:`mibench.estimators.BUILTIN`), so ``list estimators`` describes them without importing a
single estimator module (torch stays unimported); a test checks the metadata against the classes.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import functools
import importlib
import importlib.util
import re
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable

from mibench.api import BaseEstimator, Task

__all__ = [
    "NotRegisteredError",
    "EntryPointError",
    "PluginLoadError",
    "Spec",
    "Registry",
    "estimators",
    "tasks",
    "register_estimator",
    "register_task",
    "register_suite",
    "list_estimators",
    "make_estimator",
    "estimator_class",
    "estimator_version",
    "list_tasks",
    "list_suites",
    "make_task",
    "load_entry_point",
]


class NotRegisteredError(LookupError, ValueError):
    """An unknown name; the message suggests the closest registered names."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0]) if self.args else ""


class EntryPointError(ValueError):
    """A ``"package.module:attr"`` that cannot be imported (no such module or attribute, or the
    module raised while importing)."""


class PluginLoadError(EntryPointError):
    """A plug-in estimator (an entry point of another distribution) that failed to load."""


@dataclass(frozen=True)
class Spec:
    """One registry entry. ``kind`` is metadata of built-in estimators (None: ask the class)."""

    name: str
    entry_point: str | Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    source: str = "mibench"  # "mibench", "user" or the distribution name of a plug-in
    kind: str | None = None
    plugin: bool = False  # an entry point of another distribution, imported on first use


def load_entry_point(entry_point: str | Callable[..., Any]) -> Any:
    """Import ``"package.module:attr"`` (attr may be dotted) and return the object.

    Raises :class:`EntryPointError` (a ``ValueError``) naming the entry point when the module
    or the attribute does not exist, or when importing the module raises."""
    if not isinstance(entry_point, str):
        return entry_point
    module_name, sep, attr = entry_point.partition(":")
    if not sep or not module_name or not attr:
        raise EntryPointError(
            f"entry point must look like 'package.module:attr', got {entry_point!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or anything the module raised while importing
        raise EntryPointError(f"cannot import module {module_name!r} of {entry_point!r}: "
                              f"{type(exc).__name__}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise EntryPointError(f"module {module_name!r} has no attribute {attr!r} "
                                  f"(entry point {entry_point!r})") from None
    return obj


@functools.lru_cache(maxsize=None)
def _class_docs(module_name: str) -> dict[str, str]:
    """Docstrings of the top-level classes of a module, parsed from its source (not imported)."""
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return {}
        with open(spec.origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (ImportError, OSError, SyntaxError, ValueError):
        return {}
    return {node.name: ast.get_docstring(node) or "" for node in tree.body
            if isinstance(node, ast.ClassDef)}


def class_summary(entry_point: str) -> str:
    """First line of the docstring of the class behind ``"package.module:Class"``, read from
    the module's source without importing it ("" when it cannot be found)."""
    module_name, _, attr = entry_point.partition(":")
    doc = _class_docs(module_name).get(attr, "").strip()
    return doc.splitlines()[0] if doc else ""


def _natural_key(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class Registry:
    """A name -> :class:`Spec` table, filled lazily from built-ins and plug-ins on first use."""

    def __init__(self, what: str, group: str, builtin: str | None = None) -> None:
        self.what = what  # "estimator" / "task", for messages
        self.group = group  # entry-point group of plug-ins
        self._builtin = builtin  # "module:TABLE" of built-in entries
        self._specs: dict[str, Spec] = {}
        self._cache: dict[str, Any] = {}
        self._loaded = False

    # -- filling -------------------------------------------------------------------------
    def register(
        self,
        name: str,
        entry_point: str | Callable[..., Any],
        *,
        kwargs: dict | None = None,
        source: str = "user",
        override: bool = False,
    ) -> None:
        """Register ``name``. A name that is already registered raises unless ``override``."""
        if not isinstance(name, str) or not name or ":" in name or name != name.strip():
            raise ValueError(f"invalid {self.what} name {name!r}")
        self._ensure_loaded()
        self._add(Spec(name, entry_point, dict(kwargs or {}), source), override)

    @staticmethod
    def _builtin_spec(name: str, entry: Any) -> Spec:
        """A built-in table entry: ``"module:attr"`` or a tuple of it with a kwargs dict and/or
        a kind string (``("module:Class", "estimate")``, ``("module:factory", {...})``)."""
        if isinstance(entry, str):
            return Spec(name, entry)
        target, kwargs, kind = entry[0], {}, None
        for extra in entry[1:]:
            if isinstance(extra, dict):
                kwargs = dict(extra)
            else:
                kind = extra
        return Spec(name, target, kwargs, "mibench", kind)

    def _add(self, spec: Spec, override: bool = False) -> None:
        if spec.name in self._specs and not override:
            raise ValueError(
                f"{self.what} {spec.name!r} is already registered "
                f"(by {self._specs[spec.name].source}); pass override=True to replace it"
            )
        self._specs[spec.name] = spec
        self._cache.pop(spec.name, None)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._builtin:
            for name, entry in load_entry_point(self._builtin).items():
                self._add(self._builtin_spec(name, entry))
        self._load_plugins()

    def _load_plugins(self) -> None:
        for ep in metadata.entry_points(group=self.group):
            source = ep.dist.name if ep.dist is not None else "plugin"
            try:
                self._register_plugin(ep, source)
            except Exception as exc:  # a broken plug-in must not break mibench
                warnings.warn(
                    f"skipping {self.what} plug-in {ep.name!r} from {source}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def _register_plugin(self, ep: metadata.EntryPoint, source: str) -> None:
        """Register the entry point's name only; its module is imported by :meth:`load`."""
        self._add(Spec(ep.name, ep.value, {}, source, plugin=True))

    # -- look-up -------------------------------------------------------------------------
    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching an fnmatch ``pattern``, naturally sorted."""
        self._ensure_loaded()
        return sorted(fnmatch.filter(self._specs, pattern), key=_natural_key)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._specs

    def spec(self, name: str) -> Spec:
        self._ensure_loaded()
        try:
            return self._specs[name]
        except KeyError:
            raise NotRegisteredError(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        names = list(self._specs)
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(str(name).lower(), list(lowered), n=3, cutoff=0.6)
        hint = (
            "; did you mean " + " or ".join(repr(lowered[c]) for c in close) + "?"
            if close
            else f"; see `python -m mibench list {self.what}s`"
        )
        return f"unknown {self.what} {name!r}{hint}"

    def load(self, name: str) -> Any:
        """The object behind ``name`` (imported on first use). A plug-in that fails to import
        raises :class:`PluginLoadError` naming the plug-in and its distribution."""
        if name not in self._cache:
            spec = self.spec(name)
            try:
                self._cache[name] = load_entry_point(spec.entry_point)
            except EntryPointError as exc:
                if not spec.plugin:
                    raise
                cause = exc.__cause__ or exc
                raise PluginLoadError(
                    f"{self.what} plug-in {name!r} (from {spec.source}) failed to load: "
                    f"{type(cause).__name__}: {cause}") from exc
        return self._cache[name]

    def describe(self, name: str) -> dict:
        """``name``, ``kind``, ``class``, ``source`` and a one-line ``summary``; from the
        metadata alone where there is a kind (built-ins: no import), else from the loaded class.
        Raises what :meth:`load` raises."""
        spec = self.spec(name)
        target = spec.entry_point
        if spec.kind is not None and isinstance(target, str):
            return {"name": name, "kind": spec.kind, "class": target.rpartition(":")[2],
                    "source": spec.source, "summary": class_summary(target)}
        cls = self.load(name)
        doc = (getattr(cls, "__doc__", None) or "").strip()
        return {"name": name, "kind": getattr(cls, "kind", "?"),
                "class": getattr(cls, "__name__", "?"), "source": spec.source,
                "summary": doc.splitlines()[0] if doc else ""}


# ----------------------------------------------------------------------------------------------
# Estimators
# ----------------------------------------------------------------------------------------------

estimators = Registry("estimator", "mibench.estimators", "mibench.estimators:BUILTIN")


def register_estimator(
    name: str, entry_point: str | type, *, override: bool = False, **defaults: Any
) -> None:
    """Register an estimator class (or ``"module:Class"``) under ``name``.

    ``defaults`` are keyword arguments passed to the class unless overridden in
    :func:`make_estimator`.
    """
    estimators.register(name, entry_point, kwargs=defaults, override=override)


def list_estimators(pattern: str = "*") -> list[str]:
    """Names of registered estimators matching ``pattern`` (fnmatch wildcards), sorted."""
    return estimators.names(pattern)


def estimator_class(name: str) -> tuple[type[BaseEstimator], dict]:
    """The class behind an estimator name (or ``"package.module:Class"``) and its registered
    default keyword arguments; nothing is instantiated or run."""
    if ":" in name:
        cls, defaults = load_entry_point(name), {}
    else:
        cls, defaults = estimators.load(name), estimators.spec(name).kwargs
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise TypeError(f"{name!r} does not point to a subclass of mibench.BaseEstimator")
    return cls, defaults


def estimator_version(name: str) -> int:
    """The numerics version of an estimator (its class attribute ``version``; see
    :class:`mibench.api.BaseEstimator`), read without running it."""
    version = getattr(estimator_class(name)[0], "version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TypeError(f"{name!r}: the class attribute 'version' must be an integer >= 1, "
                        f"got {version!r}")
    return version


def make_estimator(name: str, **params: Any) -> BaseEstimator:
    """Instantiate a registered estimator, or any ``"package.module:Class"`` without registering.

    ``params`` override the registered defaults. Unknown hyperparameters raise ``ValueError``.
    """
    cls, defaults = estimator_class(name)
    merged = {**defaults, **params}
    valid = set(cls._param_names())
    unknown = sorted(set(merged) - valid)
    if unknown:
        raise ValueError(
            f"estimator {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(valid)) or '(none)'}"
        )
    return cls(**merged)


def estimator_source(name: str) -> str:
    """Provenance of an estimator name: ``mibench``, a plug-in distribution, or ``module``."""
    if ":" in name:
        return name.partition(":")[0]
    return estimators.spec(name).source


# ----------------------------------------------------------------------------------------------
# Tasks and suites
# ----------------------------------------------------------------------------------------------


class _TaskRegistry(Registry):
    """Entries are task factories (``factory(**kwargs) -> Task``); plug-in entry points may also
    give a :class:`Task` or a callable returning one or several tasks."""

    def _register_plugin(self, ep: metadata.EntryPoint, source: str) -> None:
        obj = ep.load()  # a task's id is known only from the task: load now (isolated)
        if callable(obj) and not isinstance(obj, Task):
            obj = obj()
        found = [obj] if isinstance(obj, Task) else list(obj)
        for task in found:
            if not isinstance(task, Task):
                raise TypeError(f"entry point gave {type(task).__name__}, not a mibench Task")
            self._add(Spec(task.id, ep.value, {}, source))
            self._cache[task.id] = task

    def load(self, name: str) -> Task:
        if name not in self._cache:
            spec = self.spec(name)
            task = load_entry_point(spec.entry_point)(**spec.kwargs)
            if not isinstance(task, Task) or task.id != name:
                raise TypeError(f"task factory for {name!r} returned {task!r}")
            self._cache[name] = task
        return self._cache[name]


tasks = _TaskRegistry("task", "mibench.tasks", "mibench.tasks:BUILTIN")
_suites: dict[str, list[str]] | None = None


def _suite_table() -> dict[str, list[str]]:
    global _suites
    if _suites is None:
        _suites = {k: list(v) for k, v in load_entry_point("mibench.tasks:SUITES").items()}
    return _suites


def register_task(task_id: str, factory: str | Callable[..., Task], **kwargs: Any) -> None:
    """Register a task factory: ``factory(**kwargs)`` must return a Task whose id is ``task_id``."""
    tasks.register(task_id, factory, kwargs=kwargs)


def register_suite(name: str, patterns: Iterable[str], *, override: bool = False) -> None:
    """Register a named suite: a list of task ids or fnmatch patterns."""
    table = _suite_table()
    if name in table and not override:
        raise ValueError(f"suite {name!r} is already registered")
    table[name] = list(patterns)


def list_suites() -> list[str]:
    return sorted(_suite_table(), key=_natural_key)


def list_tasks(pattern: str = "*", suite: str | None = None) -> list[str]:
    """Task ids matching ``pattern`` (fnmatch), optionally restricted to a named suite."""
    names = tasks.names(pattern)
    if suite is None:
        return names
    table = _suite_table()
    if suite not in table:
        close = difflib.get_close_matches(suite, list(table), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise NotRegisteredError(f"unknown suite {suite!r}{hint} (known: {', '.join(table)})")
    members = {n for p in table[suite] for n in fnmatch.filter(tasks.names(), p)}
    return [n for n in names if n in members]


def make_task(task_id: str) -> Task:
    """The registered task ``task_id`` (or ``"package.module:factory"``, called with no args)."""
    if ":" in task_id:
        obj = load_entry_point(task_id)
        task = obj if isinstance(obj, Task) else obj()
        if not isinstance(task, Task):
            raise TypeError(f"{task_id!r} did not give a mibench Task")
        return task
    return tasks.load(task_id)
