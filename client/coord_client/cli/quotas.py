"""`coordctl quota`: hard quotas on subtrees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from coord_client.cli.options import path_argument
from coord_client.cli.session import Ctl, Failure, pass_ctl
from coord_client.exceptions import NoNodeError
from coord_client.quota import QuotaInfo


@click.group()
def quota() -> None:
    """Hard quotas on subtrees (ZooKeeper 3.7+'s setquota -N/-B)."""


@contextmanager
def _quota_named() -> Iterator[None]:
    """A missing quota is not a missing node: the member's own words."""
    try:
        yield
    except NoNodeError as exc:
        raise Failure(str(exc)) from None


def _show_quota(ctl: Ctl, info: QuotaInfo) -> None:
    if ctl.as_json:
        ctl.emit(info.to_dict())
        return
    for name, limit, used in (
        ("count", info.count, info.used_count),
        ("bytes", info.bytes, info.used_bytes),
    ):
        click.echo(f"{name}={used}/{'none' if limit is None else limit}")


@quota.command(name="set")
@path_argument()
@click.option("--count", type=int, help="Most znodes in the subtree, PATH included.")
@click.option("--bytes", "size", type=int, help="Most bytes of data in the subtree.")
@pass_ctl
def quota_set(ctl: Ctl, path: str, count: int | None, size: int | None) -> None:
    """Set a hard quota on PATH; a limit not given keeps its value. Prints
    the quota as `quota get`."""
    with _quota_named():
        _show_quota(ctl, ctl.client().set_quota(path, count=count, bytes=size))


@quota.command(name="get")
@path_argument()
@pass_ctl
def quota_get(ctl: Ctl, path: str) -> None:
    """The quota on PATH: `count=USED/LIMIT` and `bytes=USED/LIMIT` (none: no limit)."""
    with _quota_named():
        _show_quota(ctl, ctl.client().get_quota(path))


@quota.command(name="rm")
@path_argument()
@pass_ctl
def quota_rm(ctl: Ctl, path: str) -> None:
    """Remove the quota on PATH."""
    with _quota_named():
        ctl.client().delete_quota(path)
    if ctl.as_json:
        ctl.emit({"deleted_quota": path})
