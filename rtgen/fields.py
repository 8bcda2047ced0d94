"""The one check for settings given as plain values (a TOML preset or recipe, ``--set``, a
checkpoint's stored config): every key must name a field, every value must pass its field's
check. Play presets, training recipes and model configs all call :func:`check_fields`; each
words the errors for its own readers.

    checked = check_fields({"lr": 1}, field_types(TrainConfig))   # {"lr": 1.0}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


class UnknownField(ValueError):
    """A key that names no field; ``known`` lists the fields, in their order."""

    def __init__(self, key: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown key {key!r}")
        self.key, self.known = key, known


class BadField(ValueError):
    """A value its field's check refused; ``error`` is what the check raised."""

    def __init__(self, key: str, value: Any, error: ValueError) -> None:
        super().__init__(f"{key}: {error}")
        self.key, self.value, self.error = key, value, error


class WrongType(ValueError):
    """A value of another type than its field's."""

    def __init__(self, want: type, value: Any) -> None:
        super().__init__(f"must be {want.__name__}, got {value!r}")
        self.want, self.value = want, value


def typed(want: type, value: Any) -> Any:
    """``value`` as a field of type ``want`` holds it: exactly that type (a bool is not an
    int), except that a whole number stands for a float (TOML's ``90`` for ``90.0``). A
    whole number too big for a float raises OverflowError."""
    if type(value) is want:
        return value
    if want is float and type(value) is int:
        return float(value)
    raise WrongType(want, value)


def field_types(cls: type) -> dict[str, Callable[[Any], Any]]:
    """For each field of dataclass ``cls`` (every field has a default), a check that the
    value has the default's type (see :func:`typed`)."""
    defaults = cls()
    return {f.name: _type_check(type(getattr(defaults, f.name))) for f in dataclasses.fields(cls)}


def _type_check(want: type) -> Callable[[Any], Any]:
    return lambda value: typed(want, value)


def check_fields(
    values: Mapping[str, Any], checks: Mapping[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    """``values`` as their checks return them, in order. The first key no check is given for
    raises UnknownField; the first value whose check raises a ValueError raises BadField."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        check = checks.get(key)
        if check is None:
            raise UnknownField(key, tuple(checks))
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise BadField(key, value, exc) from None
    return out


def build_checked(cls: type, values: Mapping[str, Any], label: str) -> Any:
    """``cls(**values)`` for a dataclass of plain fields, every key and type checked first;
    the one-line errors name the settings by ``label`` ("train", "lstm", ...)."""
    from rtgen.errors import RtgenError

    try:
        return cls(**check_fields(values, field_types(cls)))
    except UnknownField as exc:
        known = ", ".join(exc.known)
        raise RtgenError(f"unknown {label} setting {exc.key!r}; known: {known}") from None
    except BadField as exc:
        raise RtgenError(f"{label} setting {exc.key!r} {exc.error}") from None
