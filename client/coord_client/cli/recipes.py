"""coordctl's recipe commands: run a command holding a lock or as the elected
leader, and read and write configuration kept as the children of a node."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import click

from coord_client.cli.options import path_argument
from coord_client.cli.render import data_json
from coord_client.cli.session import Ctl, Failure, pass_ctl
from coord_client.recipes import Config, Election, Lock


def _run_while(lost: threading.Event, command: tuple[str, ...], env: dict[str, str]) -> int:
    """Run `command`; stop it (SIGTERM) if what it depends on is lost."""
    proc = subprocess.Popen(command, env={**os.environ, **env})

    def guard() -> None:
        if lost.wait() and proc.poll() is None:
            proc.terminate()

    threading.Thread(target=guard, daemon=True).start()
    code = proc.wait()
    if lost.is_set():
        raise Failure("the session was lost while the command ran; it was stopped")
    return code


@click.command(context_settings={"ignore_unknown_options": True})
@path_argument()
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def lock(ctx: click.Context, path: str, command: tuple[str, ...]) -> None:
    """Run COMMAND holding the lock at PATH (coordctl lock PATH -- CMD ...);
    exits with its code. COORD_LOCK_PATH and COORD_FENCING_TOKEN are set for
    it; if the session is lost meanwhile, COMMAND is stopped."""
    ctl = ctx.find_object(Ctl)
    held = Lock(ctl.client(), path)
    with held:
        env = {"COORD_LOCK_PATH": path, "COORD_FENCING_TOKEN": str(held.fencing_token)}
        code = _run_while(held.lost, command, env)
    ctx.exit(code)


@click.command(context_settings={"ignore_unknown_options": True})
@path_argument()
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--id", "identifier", help="How this contender shows among the contenders.")
@click.pass_context
def elect(ctx: click.Context, path: str, command: tuple[str, ...], identifier: str | None) -> None:
    """Wait to be elected leader at PATH, then run COMMAND as the leader
    (coordctl elect PATH -- CMD ...); exits with its code. If the session is
    lost meanwhile, COMMAND is stopped."""
    ctl = ctx.find_object(Ctl)
    election = Election(ctl.client(), path, identifier)
    codes: list[int] = []
    election.run(lambda: codes.append(_run_while(election.lost, command, {})))
    ctx.exit(codes[0] if codes else 1)


@click.group()
def config() -> None:
    """Configuration kept as the children of a node (Config recipe)."""


@config.command(name="get")
@path_argument()
@click.argument("key")
@pass_ctl
def config_get(ctl: Ctl, path: str, key: str) -> None:
    """The value of KEY, raw, to stdout."""
    view = Config(ctl.client(), path)
    if key not in view:
        raise Failure(f"no key {key} in {path}")
    if ctl.as_json:
        ctl.emit({"key": key, **data_json(view[key]), "version": view.version})
    else:
        sys.stdout.buffer.write(view[key])
    view.close()


@config.command(name="set")
@path_argument()
@click.argument("pairs", nargs=-1, required=True)
@click.option("-v", "--version", type=int, default=None, help="Only if still at this version.")
@pass_ctl
def config_set(ctl: Ctl, path: str, pairs: tuple[str, ...], version: int | None) -> None:
    """Set KEY=VALUE pairs in one transaction; prints the new version."""
    if any("=" not in pair for pair in pairs):
        raise Failure("each pair must be KEY=VALUE")
    view = Config(ctl.client(), path)
    new = view.update(
        {k: v.encode() for k, _, v in (p.partition("=") for p in pairs)}, version=version
    )
    view.close()
    if ctl.as_json:
        ctl.emit({"version": new})
    else:
        click.echo(new)


@config.command(name="dump")
@path_argument()
@pass_ctl
def config_dump(ctl: Ctl, path: str) -> None:
    """Every key with its value, and the version, as JSON."""
    view = Config(ctl.client(), path)
    values = {key: data_json(view[key])["data"] for key in sorted(view)}
    ctl.emit({"path": path, "version": view.version, "values": values})
    view.close()
