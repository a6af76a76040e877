"""coordctl lock / elect / config, through real processes."""

from __future__ import annotations

import json
import subprocess
import sys

CRITICAL = (
    "import os, sys; p = sys.argv[1]; "
    "fd = os.open(p + '.busy', os.O_CREAT | os.O_EXCL);"  # fails if another holder is inside
    "n = int(open(p).read() or 0) if os.path.exists(p) else 0; open(p, 'w').write(str(n + 1));"
    "os.close(fd); os.unlink(p + '.busy')"
)


def coordctl(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "coord_client.cli", "--servers", server.address, *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_lock_runs_the_command_with_a_fencing_token_and_its_exit_code(server):
    show = "echo $COORD_LOCK_PATH $COORD_FENCING_TOKEN; exit 3"
    first = coordctl(server, "lock", "/locks/job", "--", "sh", "-c", show)
    second = coordctl(server, "lock", "/locks/job", "--", "sh", "-c", show)
    assert (first.returncode, second.returncode) == (3, 3), first.stderr + second.stderr
    (path1, token1), (path2, token2) = first.stdout.split(), second.stdout.split()
    assert path1 == path2 == "/locks/job"
    assert int(token2) > int(token1)


def test_concurrent_lock_holders_never_overlap(server, tmp_path):
    counter = tmp_path / "count"
    command = ["lock", "/locks/c", "--", sys.executable, "-c", CRITICAL, str(counter)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "coord_client.cli", "--servers", server.address,
                          *command], stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]  # fmt: skip
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), errors
    assert counter.read_text() == "6"


def test_elect_runs_the_command_as_leader(server):
    done = coordctl(server, "elect", "/elections/a", "--id", "me", "--", "echo", "leading")
    assert (done.returncode, done.stdout) == (0, "leading\n"), done.stderr


def test_config_set_get_dump_and_a_stale_version(server):
    assert coordctl(server, "config", "set", "/cfg", "a=1", "b=2").stdout == "1\n"
    assert coordctl(server, "config", "get", "/cfg", "a").stdout == "1"
    dump = json.loads(coordctl(server, "--json", "config", "dump", "/cfg").stdout)
    assert dump == {"path": "/cfg", "version": 1, "values": {"a": "1", "b": "2"}}
    stale = coordctl(server, "config", "set", "/cfg", "a=9", "-v", "0")
    assert stale.returncode == 1
    assert stale.stderr == "coordctl: bad version for /cfg\n"
    assert coordctl(server, "config", "get", "/cfg", "a").stdout == "1"
