"""A griffe extension that gives `attrs` classes their real `__init__` signature.

griffe reads source statically and knows nothing of the `__init__` that
`@attrs.frozen` / `@attrs.define` write at import time, so without this the
reference pages would show `Segment()` and warn that every documented
argument "does not appear in the function signature". For each class
decorated by attrs, this imports the class, reads `inspect.signature` of the
generated `__init__` (which already knows aliases, converters, defaults and
keyword-only fields) and adds it to the class as a static `__init__`.

Used by mkdocs.yml (`plugins.mkdocstrings.handlers.python.options.extensions`);
it is not part of relmark and is excluded from the built site.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import types
from typing import Any

import griffe

_ATTRS_DECORATORS = frozenset(
    f"{module}.{name}"
    for module in ("attrs", "attr")
    for name in ("define", "frozen", "mutable", "s", "attrs", "dataclass")
)


def _is_attrs_class(cls: griffe.Class) -> bool:
    for decorator in cls.decorators:
        value = decorator.value
        if isinstance(value, griffe.ExprCall):
            value = value.function
        path = value.canonical_path if isinstance(value, griffe.Expr) else str(value)
        if path in _ATTRS_DECORATORS:
            return True
    return False


def _runtime_class(cls: griffe.Class) -> type | None:
    try:
        obj: Any = importlib.import_module(cls.module.path)
        for part in cls.path[len(cls.module.path) + 1 :].split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        griffe.logger.warning("attrs_init: cannot import %s: %s", cls.path, exc)
        return None
    return obj if isinstance(obj, type) else None


def _annotation(text: object, cls: griffe.Class) -> str | griffe.Expr | None:
    if text is inspect.Parameter.empty:
        return None
    source = text if isinstance(text, str) else inspect.formatannotation(text)
    try:
        node = ast.parse(source, mode="eval").body
    except SyntaxError:
        return source
    return griffe.safe_get_annotation(node, parent=cls) or source


def _field_annotation(name: str, runtime: type, cls: griffe.Class) -> str | griffe.Expr | None:
    """The annotation written on the field, for converters that carry none (e.g. `tuple`)."""
    import attrs

    field = next((f for f in attrs.fields(runtime) if f.alias == name), None)
    member = cls.members.get(field.name) if field is not None else None
    return getattr(member, "annotation", None)


def _default(name: str, value: object, runtime: type) -> str | None:
    import attrs

    if value is inspect.Parameter.empty:
        return None
    if value is attrs.NOTHING:
        # A default computed from a factory (possibly from other fields).
        field = next((f for f in attrs.fields(runtime) if f.alias == name), None)
        factory = getattr(getattr(field, "default", None), "factory", None)
        if factory is None or getattr(field.default, "takes_self", False):
            return "..."  # computed when the record is built
        return f"{getattr(factory, '__name__', 'factory')}()"
    if isinstance(value, types.MappingProxyType):
        return repr(dict(value))  # a read-only empty mapping reads as {}
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


def _set_init(cls: griffe.Class) -> None:
    runtime = _runtime_class(cls)
    if runtime is None:
        return
    try:
        signature = inspect.signature(runtime.__init__)
    except (TypeError, ValueError):
        return
    parameters = [
        griffe.Parameter(
            param.name,
            annotation=_annotation(param.annotation, cls)
            or _field_annotation(param.name, runtime, cls),
            kind=griffe.ParameterKind(param.kind.description),
            default=_default(param.name, param.default, runtime),
        )
        for param in signature.parameters.values()
    ]
    init = griffe.Function(
        "__init__",
        lineno=cls.lineno,
        endlineno=cls.lineno,
        parent=cls,
        parameters=griffe.Parameters(*parameters),
        returns="None",
    )
    cls.set_member("__init__", init)
    cls.labels.add("attrs")


def _walk(obj: griffe.Module | griffe.Class, seen: set[str]) -> None:
    if obj.path in seen:
        return
    seen.add(obj.path)
    if isinstance(obj, griffe.Class) and "__init__" not in obj.members and _is_attrs_class(obj):
        _set_init(obj)
    for member in obj.members.values():
        if not member.is_alias and (member.is_module or member.is_class):
            _walk(member, seen)  # type: ignore[arg-type]


class AttrsInitExtension(griffe.Extension):
    """Add the attrs-generated `__init__` to every attrs class of a package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Run once the package is fully loaded."""
        _walk(pkg, set())
