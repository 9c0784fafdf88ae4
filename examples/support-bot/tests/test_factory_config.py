""".factory.yaml agrees with the repository: the seed files exist, the servers are this app's."""

from __future__ import annotations

import importlib.util

import yaml
from helpers import REPO

CONFIG = yaml.safe_load((REPO / ".factory.yaml").read_text())


def test_seed_files_exist() -> None:
    for seed in CONFIG["e2e"]["seeds"]:
        assert (REPO / seed).is_file(), seed


def test_servers_are_the_app_s_three_servers_on_their_ports() -> None:
    servers = {s["name"]: s for s in CONFIG["e2e"]["servers"]}
    assert {name: s["port"] for name, s in servers.items()} == {
        "backend": 8080,
        "playground": 3001,
        "backoffice": 3002,
    }
    for server in servers.values():
        module = server["command"].split(" -m ", 1)[1].split()[0]
        assert importlib.util.find_spec(module) is not None, module
        assert f"--port {server['port']}" in server["command"]
        assert server["health_url"] == f"http://127.0.0.1:{server['port']}/health"


def test_pages_are_on_the_servers() -> None:
    ports = {s["port"] for s in CONFIG["e2e"]["servers"]}
    for page in CONFIG["e2e"]["pages"]:
        assert int(page["url"].split(":")[2].split("/")[0]) in ports, page["name"]
