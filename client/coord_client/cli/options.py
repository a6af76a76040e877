"""Arguments and option types shared by coordctl's commands: each is checked
before coordctl connects, so a bad one costs no session."""

from __future__ import annotations

from typing import Any

import click

from coord_api.paths import validate_path
from coord_client.cli.session import Ctl
from coord_client.security import acls_from_text


def _note_path(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.find_object(Ctl).path = validate_path(value)  # refused before connecting
    return value


def path_argument(**kwargs: Any) -> Any:
    """The PATH argument; kept on the Ctl so an error can name it."""
    return click.argument("path", callback=_note_path, **kwargs)


class Credentials(click.ParamType):
    """--auth values; from $COORD_AUTH one a line, as a password may hold
    commas and spaces."""

    name = "SCHEME:CREDENTIAL"

    def split_envvar_value(self, rv: str) -> list[str]:
        return [line for line in rv.splitlines() if line.strip()]


def credential(text: str) -> tuple[str, str]:
    """`SCHEME:CREDENTIAL` (`digest:user:password`), split at the first colon."""
    scheme, colon, credential = text.partition(":")
    if not scheme or not colon:
        raise ValueError(f"bad --auth {text!r}: use SCHEME:CREDENTIAL")
    return scheme, credential


def parse_acl(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """An ACL argument in ZooKeeper's text form; refused before connecting."""
    return None if value is None else acls_from_text(value)
