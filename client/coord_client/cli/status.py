"""`coordctl status`: one row per member, from the first member that answers."""

from __future__ import annotations

import click
import grpc
from rich.table import Table

from coord_api.wire import client_pb2 as pb
from coord_api.wire.client_pb2_grpc import CoordStub
from coord_client.channel import open_channel, parse_hosts
from coord_client.cli.render import console
from coord_client.cli.session import Ctl, Failure, pass_ctl
from coord_client.exceptions import CoordTimeoutError, TLSError
from coord_client.tls import diagnose


def _status(ctl: Ctl) -> pb.StatusResponse:
    """Ask the first member that answers."""
    tls = ctl.tls()
    problem = None
    for address in parse_hosts(ctl.servers):
        channel = open_channel(address, tls, ctl.timeout)
        try:
            return CoordStub(channel).Status(pb.StatusRequest(), timeout=ctl.timeout)
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Failure(f"{address}: {exc.details()}") from None
            problem = diagnose(address, tls, ctl.timeout) or problem
        finally:
            channel.close()
    if problem is not None:
        raise TLSError(problem)
    raise CoordTimeoutError()


_STATUS_COLUMNS = [
    ("id", "id"),
    ("address", "address"),
    ("role", "role"),
    ("leader ballot", "leader_ballot"),
    ("committed zxid", "committed_zxid"),
    ("applied zxid", "applied_zxid"),
    ("sessions", "sessions"),
    ("znodes", "znodes"),
]


@click.command()
@pass_ctl
def status(ctl: Ctl) -> None:
    """One row per member: role, leader ballot, zxids, sessions, znodes."""
    members = [
        {f.name: getattr(member, f.name) for f in member.DESCRIPTOR.fields}
        for member in _status(ctl).members
    ]
    if ctl.as_json:
        ctl.emit(members)
        return
    table = Table()
    for title, _ in _STATUS_COLUMNS:
        table.add_column(title)
    for member in members:
        table.add_row(*(str(member[key]) for _, key in _STATUS_COLUMNS))
    console().print(table)
