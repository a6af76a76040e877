"""Path rules shared by the SDK and the server: ZooKeeper's (README, "Semantics").

The SDK refuses a bad path before anything is sent (``ValueError``, as kazoo
does); the server applies the same rules to every request it receives.
"""

from __future__ import annotations

RESERVED = "/coord"
SEQUENCE_DIGITS = 10


def path_error(path: object) -> str | None:
    """Why `path` is not a valid znode path, or None when it is."""
    if not isinstance(path, str):
        return f"path must be a string, not {type(path).__name__}"
    if not path:
        return "path is empty"
    if path[0] != "/":
        return f"path must be absolute: {path!r}"
    if path == "/":
        return None
    if path.endswith("/"):
        return f"path must not end with '/': {path!r}"
    if "//" in path:
        return f"path has an empty segment: {path!r}"
    if "/." in path and any(s in (".", "..") for s in path.split("/")):
        return f"path has a relative segment: {path!r}"
    if path.isascii() and path.isprintable():
        return None  # the common case, checked at C speed
    for ch in path:
        code = ord(ch)
        # ZooKeeper's rule, in its UTF-16 terms: no controls, no surrogates
        # or private use, nothing from U+FFF0 on (so nothing outside the BMP).
        if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xF8FF or code >= 0xFFF0:
            return f"path has a control or reserved character {ch!r}: {path!r}"
    return None


def validate_path(path: str) -> str:
    """Return `path` unchanged, or raise ValueError naming the problem."""
    error = path_error(path)
    if error:
        raise ValueError(error)
    return path


def parent(path: str) -> str:
    """The parent of a valid non-root path."""
    head = path.rpartition("/")[0]
    return head or "/"


def basename(path: str) -> str:
    return path.rpartition("/")[2]


def join(parent_path: str, name: str) -> str:
    return parent_path + name if parent_path == "/" else f"{parent_path}/{name}"


def is_reserved(path: str) -> bool:
    """True for /coord and everything under it: the service's own subtree."""
    return path == RESERVED or path.startswith(RESERVED + "/")


def sequence_name(path: str, counter: int) -> str:
    """The name ZooKeeper gives a sequential create: a 10-digit suffix."""
    return f"{path}{counter:0{SEQUENCE_DIGITS}d}"
