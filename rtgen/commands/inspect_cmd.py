"""`rtgen ports`: placeholder until the ports module lands."""

import typer


def register(app: typer.Typer) -> None:
    pass
