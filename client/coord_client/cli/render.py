"""How coordctl shows what it read: data as JSON text, rich output to stdout."""

from __future__ import annotations

import base64
import sys

from rich.console import Console


def data_json(data: bytes) -> dict[str, str]:
    """Data as JSON text: UTF-8 when it is, else base64."""
    try:
        return {"data": data.decode("utf-8"), "encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}


def console() -> Console:
    """Rich output to stdout, not cut to 80 columns when stdout is not a terminal."""
    return Console(soft_wrap=True, highlight=False, width=None if sys.stdout.isatty() else 1000)
