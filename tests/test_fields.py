"""rtgen.fields: the one unknown-key and wrong-type check behind play presets, training recipes
and model configs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rtgen.fields import BadField, UnknownField, WrongType, check_fields, field_types, typed


@dataclass
class _Config:
    layers: int = 2
    lr: float = 1e-3
    name: str = "x"
    tied: bool = False


def test_whole_numbers_stand_for_floats_and_nothing_else_converts() -> None:
    """TOML's 90 for 90.0; a bool is not an int, an int not a str."""
    assert typed(float, 90) == 90.0 and type(typed(float, 90)) is float
    for want, value in [(int, True), (int, 2.0), (str, 1), (bool, 1), (float, "1")]:
        with pytest.raises(WrongType, match=f"must be {want.__name__}"):
            typed(want, value)
    with pytest.raises(OverflowError):
        typed(float, 10**400)


def test_check_fields_names_the_first_unknown_key_or_bad_value() -> None:
    checks = field_types(_Config)
    assert check_fields({"lr": 1, "tied": True}, checks) == {"lr": 1.0, "tied": True}
    with pytest.raises(UnknownField) as unknown:
        check_fields({"layers": 3, "width": 4}, checks)
    assert unknown.value.key == "width" and unknown.value.known == ("layers", "lr", "name", "tied")
    with pytest.raises(BadField) as bad:
        check_fields({"layers": "3"}, checks)
    assert bad.value.key == "layers" and str(bad.value.error) == "must be int, got '3'"
