"""Members proving a shared cluster secret to each other, without sending it.

Every peer call carries, in its metadata, the calling member's id, the member
it is for, the time, a random nonce and an HMAC-SHA256 over all of them and
the method, keyed by the secret. The receiver recomputes it: only a holder of
the secret can sign, a signature is good for one method on one member, for a
bounded time, and once. A stream is checked once, when it opens.

The secret proves who calls; it does not hide what is said (peer TLS does).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

MEMBER = "coord-peer-member"
TARGET = "coord-peer-target"
TIME = "coord-peer-time"
NONCE = "coord-peer-nonce"
MAC = "coord-peer-mac"
SIGNED = (MEMBER, TARGET, TIME, NONCE, MAC)

MIN_SECRET_BYTES = 16
MAX_SECRET_BYTES = 4096
MAX_SKEW_S = 60.0
NONCE_BYTES = 16
MAX_NONCES = 100_000  # signatures remembered for replay; each lives MAX_SKEW_S at most


class SecretError(Exception):
    """The secret file cannot be used; the message says why, in one line."""


class Refused(Exception):
    """A call failed authentication; the message is the reason, one line."""


def in_own_name(member: int, claimed: Iterable[int]) -> bool:
    """Whether every sender a peer's message names is the member that proved
    who it is: a member speaks only for itself. The simulator's network
    applies the same rule to forged messages (tests/paxos_sim.py)."""
    return all(src == member for src in claimed)


def load_secret(path: Path) -> bytes:
    """The secret in `path` (surrounding whitespace ignored). The file must
    be readable by its owner only, as ssh insists for its keys."""
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()[: MAX_SECRET_BYTES + 1]
    except OSError as err:
        raise SecretError(f"cannot read cluster secret {path}: {err.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(f"cluster secret {path} is open to other users (chmod 600 it)")
    secret = raw.strip()
    if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
        raise SecretError(
            f"cluster secret {path} must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes"
        )
    return secret


def write_new_secret(path: Path) -> None:
    """A fresh random secret (64 hex digits) in a new file of mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")


def _mac(secret: bytes, method: str, member: str, target: str, when: str, nonce: str) -> str:
    message = "\n".join((method, member, target, when, nonce)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign(
    secret: bytes, method: str, member: int, target: int, now: float | None = None
) -> tuple[tuple[str, str], ...]:
    """Call metadata proving that `member` holds the secret, for one call of
    `method` (its full gRPC path) on member `target`."""
    when = f"{time.time() if now is None else now:.3f}"
    nonce = secrets.token_hex(NONCE_BYTES)
    mac = _mac(secret, method, str(member), str(target), when, nonce)
    return ((MEMBER, str(member)), (TARGET, str(target)), (TIME, when), (NONCE, nonce), (MAC, mac))


class SecretChecker:
    """Checks the signatures of calls made to member `own_id`."""

    def __init__(self, secret: bytes, own_id: int, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._own_id = own_id
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # nonce -> when it expires

    def check(self, method: str, metadata: Iterable[tuple[str, str | bytes]]) -> int:
        """The id of the member that signed this call, or Refused."""
        fields = {key: value for key, value in metadata if key in SIGNED}
        if len(fields) < len(SIGNED) or not all(isinstance(v, str) for v in fields.values()):
            raise Refused("the call is not signed with the cluster secret")
        member, target, when, nonce, mac = (fields[key] for key in SIGNED)
        expected = _mac(self._secret, method, member, target, when, nonce)
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            raise Refused("bad member signature (not this cluster's secret)")
        if not member.isdigit() or int(member) < 1:
            raise Refused(f"signed by {member!r}, not a member id")
        if target != str(self._own_id):
            raise Refused(f"signed for member {target}, not member {self._own_id}")
        now = self._clock()
        try:
            skew = abs(now - float(when))
        except ValueError:
            skew = float("inf")
        if not skew <= MAX_SKEW_S:
            raise Refused(f"signature time is more than {MAX_SKEW_S:.0f}s off this member's clock")
        self._forget_expired(now)
        if nonce in self._seen:
            raise Refused("signature replayed")
        if len(self._seen) >= MAX_NONCES:
            raise Refused("too many signed calls at once; retry")
        self._seen[nonce] = now + 2 * MAX_SKEW_S
        return int(member)

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            nonce, expires = next(iter(self._seen.items()))
            if expires > now:
                return
            del self._seen[nonce]
