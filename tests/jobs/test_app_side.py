"""The app's .env reaches the app's processes and not the agent (issue 18 part 2; RELIABILITY E2).

A real dev server (``DevServers``, as the e2e phase starts it) runs on the app's side of a contained box
with a canary in its configuration: it must see it (it answers its health check only when the variable
and its copy of the file agree) and it writes into the tree lent to it. Meanwhile a scripted attacker
(``HUNT``) runs as the agent's uid, as the agent's Bash or a target's install would, and reads what it
can: every process's environment and command line, the copy of the file (its path handed to it), the
directory holding it. The kernel refuses: 0 canary hits. The same hunt as the app's uid finds the
canary in both places, which shows the hunt is real; what the app writes in its tree is its own too.
After the app side ends, nothing of the box runs, the copy is gone and the tree is shut to every uid but
ours. The review's checks and the e2e setup run the same way, and what a check prints of the
configuration is masked in the evidence.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jobs.appenv import FILE_VARIABLE, load_app_env
from jobs.phases.e2e.database import TempPostgres, find_psql, run_psql, run_setup
from jobs.phases.e2e.servers import LOCK_ENV, DevServers, ServerSpec
from jobs.phases.review.evidence import run_checks
from jobs.redact import Redactor
from jobs.sandbox import AppSide, ContainedBox, open_box
from jobs.sandbox.app import app_side
from jobs.sandbox.box import processes_of
from jobs.services import build_services
from jobs.serving import free_port
from jobs.settings import load_settings
from jobs.target_config import TargetConfig
from jobs.workspace.shell import run_repo_command

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a contained box takes root")

PY = "/usr/bin/python3"  # the box's uids cannot run what lives under /root
CANARY = f"app-canary-{secrets.token_hex(16)}"

# The app: checks that its variable and its copy of the file agree, writes a cache file into its tree,
# then serves 200 on every GET.
SERVER = """\
import http.server, os, pathlib, sys
secret = os.environ["APP_SECRET"]
copy = pathlib.Path(os.environ["FACTORY_APP_ENV_FILE"]).read_text()
ok = f"APP_SECRET={secret}" in copy
pathlib.Path(".cache").mkdir(exist_ok=True)
pathlib.Path(".cache/started").write_text(secret)  # an app that writes its configuration down
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if ok else 500); self.end_headers()
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

# The attacker: everything it can read of the machine's processes and of the copy, in one JSON object.
HUNT = """\
import json, os, sys
read, denied = {}, []
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    for part in ("environ", "cmdline"):
        path = f"/proc/{pid}/{part}"
        try:
            read[path] = open(path, "rb").read().decode(errors="replace")
        except PermissionError:
            denied.append(path)
        except OSError:
            pass
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            read[path] = " ".join(os.listdir(path))
        else:
            read[path] = open(path).read()
    except PermissionError:
        denied.append(path)
print(json.dumps({"read": read, "denied": denied}))
"""


@pytest.fixture
def box() -> Iterator[ContainedBox]:
    with open_box("require") as opened:
        assert isinstance(opened, ContainedBox)
        yield opened


@pytest.fixture
def app_env_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.env"
    path.write_text(f"# the app's own\nAPP_SECRET={CANARY}\nNODE_ENV=development\n")
    path.chmod(0o600)
    return path


def tree_in(box: ContainedBox) -> Path:
    """A checkout as the e2e phase has it after install: in the box, the agent's."""
    tree = box.place("checkout")
    tree.mkdir()
    (tree / "server.py").write_text(SERVER)
    (tree / "hunt.py").write_text(HUNT)
    box.hand_over(tree)
    return tree


@dataclass(frozen=True)
class Hunt:
    """What the attacker read (path: content) and was refused."""

    read: dict[str, str]
    denied: list[str]


def hunt(box: ContainedBox, tree: Path, app: AppSide | None, *targets: str) -> Hunt:
    run = run_repo_command(f"{PY} hunt.py {' '.join(targets)}", tree, 30, box, app=app)
    assert run.exit_code == 0, run.output
    found = json.loads(run.output)
    return Hunt(found["read"], found["denied"])


def test_the_servers_get_the_apps_env_and_an_attacker_as_the_agent_reads_none_of_it(
    box: ContainedBox, app_env_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "ports.lock"))
    env = load_app_env(app_env_file, contained=True)
    tree = tree_in(box)
    port = free_port()
    spec = ServerSpec(
        name="api",
        command=f"{PY} server.py {port}",
        port=port,
        health_url=f"http://127.0.0.1:{port}/health",
    )
    with app_side(box, tree, env) as app:
        copy = Path(app.env[FILE_VARIABLE])
        assert app.env["APP_SECRET"] == CANARY and copy.read_text() == app_env_file.read_text()
        assert (copy.stat().st_uid, copy.stat().st_mode & 0o777) == (box.app_uid, 0o400)
        with DevServers([spec], tree, tmp_path / "logs", box=box, app=app):
            health = box.call(lambda: httpx.get(spec.health_url, timeout=5).status_code)
            assert health == 200  # the server saw the variable and its copy, and they agree
            [server] = processes_of(box.app_box_uid)[:1]
            written = str(tree / ".cache" / "started")
            agent = hunt(box, tree, None, str(copy), str(copy.parent), written)
            own = hunt(box, tree, AppSide(), str(copy), str(copy.parent), written)
        assert Path(written).stat().st_uid == box.app_uid  # the tree was the app's
    # The agent's uid: refused by the kernel everywhere the canary is.
    assert CANARY not in json.dumps(agent.read)
    assert {f"/proc/{server}/environ", str(copy), str(copy.parent), written} <= set(agent.denied)
    # The app's uid, with the same script: the canary in the server's environment and in the copy.
    assert CANARY in own.read[f"/proc/{server}/environ"] and CANARY in own.read[str(copy)]
    # Over: nothing of the app runs, its copy is gone, the tree is shut to both of the box's uids.
    assert processes_of(box.app_box_uid) == []
    assert not copy.parent.exists()
    assert (tree.stat().st_uid, tree.stat().st_mode & 0o777) == (0, 0o700)
    after = run_repo_command(f"ls {tree}", tmp_path, 10, box)
    assert after.exit_code != 0 and "Permission denied" in after.output


def test_the_reviews_checks_run_as_the_app_and_what_they_print_of_it_is_masked(
    box: ContainedBox, app_env_file: Path, tmp_path: Path
) -> None:
    """A check that prints its configuration (a change can make the app do that): it ran with the
    variable, as the app's uid, and the evidence the reviewer gets holds the mask, not the value."""
    env = load_app_env(app_env_file, contained=True)
    redact = Redactor(env.secret_values())
    tree = tree_in(box)
    config = TargetConfig(test='id -u; echo "secret is $APP_SECRET"; cat "$FACTORY_APP_ENV_FILE"')
    with app_side(box, tree, env) as app:
        (check,) = run_checks(config, tree, redact, box=box, app=app)
    assert check.exit_code == 0, check.output_tail
    assert check.output_tail.splitlines()[0] == str(box.app_uid)
    assert "secret is [REDACTED]" in check.output_tail and CANARY not in check.output_tail


def test_the_e2e_setup_runs_as_the_app_with_its_configuration(box: ContainedBox, app_env_file: Path) -> None:
    """Migrations need the app's configuration (a SECRET_KEY, a master key) as much as its servers do."""
    env = load_app_env(app_env_file, contained=True)
    tree = tree_in(box)
    with app_side(box, tree, env) as app:
        [run] = run_setup(
            ['test "$APP_SECRET" = "$(sed -n s/^APP_SECRET=//p "$FACTORY_APP_ENV_FILE")" && id -u'],
            tree,
            {"database_url": "postgresql://x"},
            30,
            box,
            app,
        )
    assert run.exit_code == 0, run.output
    assert run.output.strip() == str(box.app_uid)


def test_a_phase_holds_the_file_read_once_its_secret_values_join_the_redactor(app_env_file: Path) -> None:
    settings = load_settings({"APP_ENV_FILE": str(app_env_file), "REPO_URL": "/nowhere"})
    services = build_services(settings, Redactor(), agent=False)
    assert services.app_env is not None and services.app_env.names == ["APP_SECRET", "NODE_ENV"]
    assert (
        services.redact(f"the page said {CANARY} in development") == "the page said [REDACTED] in development"
    )
    assert "APP_ENV_FILE" in services.security.held


# Run as the app's uid against the run's database: each way out of its role it might try, and whether it
# got through (psql's exit code 0).
ESCAPE = """\
import json, subprocess, sys
dsn, port, socket_dir, marker = sys.argv[1:5]
def psql(target, sql):
    argv = ["psql", "-X", "-w", "-At", "-d", target, "-c", sql]
    return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
superuser = f"port={port} user=postgres dbname=postgres"
print(json.dumps({
    "superuser over TCP": psql(f"host=127.0.0.1 {superuser}", "SELECT 1"),
    "superuser through the socket": psql(f"host={socket_dir} {superuser}", "SELECT 1"),
    "a program run by the server": psql(dsn, f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'"),
    "a file read by the server": psql(dsn, "SELECT pg_read_file('/etc/hostname')"),
    "its own database": psql(dsn, "CREATE TABLE mine (id int); INSERT INTO mine VALUES (1)"),
}))
"""


def test_the_app_owns_its_database_and_cannot_reach_past_its_role(box: ContainedBox, tmp_path: Path) -> None:
    """The target's setup, seeds and servers are hostile: as the app's uid, with the app's DSN, nothing
    runs as the server's OS user and no superuser connection is open to it. The control: our code's
    superuser, through the socket, has the server run the same program."""
    tree = tree_in(box)
    (tree / "escape.py").write_text(ESCAPE)
    drop = Path(tempfile.mkdtemp(prefix="factory-escape-"))  # any uid may write here
    drop.chmod(0o1777)
    marker, control = drop / "app-ran-a-program", drop / "the-superuser-ran-a-program"
    try:
        with TempPostgres(box=box) as db, app_side(box, tree, None) as app:
            assert db.root is not None
            argv = [db.dsn, str(db.port), str(db.root / "socket"), str(marker)]
            run = run_repo_command(f"{PY} escape.py {' '.join(argv)}", tree, 60, box, app=app)
            run_psql(
                find_psql(),
                db.admin_dsn(),
                ["-c", f"COPY (SELECT 1) TO PROGRAM 'touch {control}'"],
                timeout=30,
                box=box,
            )
        assert run.exit_code == 0, run.output
        got_through = json.loads(run.output)
        assert got_through == {
            "superuser over TCP": False,
            "superuser through the socket": False,
            "a program run by the server": False,
            "a file read by the server": False,
            "its own database": True,
        }
        assert not marker.exists() and control.exists()
        print(f"\ndatabase escapes tried as the app: {len(got_through) - 1}, got through: 0")
    finally:
        shutil.rmtree(drop, ignore_errors=True)
