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


def test_setup_commands_are_the_app_s() -> None:
    for command in CONFIG["e2e"]["setup"]:
        if " -m " in command:
            module = command.split(" -m ", 1)[1].split()[0]
            assert importlib.util.find_spec(module) is not None, module


def test_onboarding_names_this_repository_s_files_and_eval() -> None:
    onboarding = CONFIG["onboarding"]
    assert (REPO / onboarding["source_dir"].format(client="lumen-fitness.example") / "kb").is_dir()
    for client in ("acme-shop.example", "northwind-travel.example"):
        assert (REPO / onboarding["dataset"].format(client=client)).is_file()
        assert (REPO / onboarding["knowledge_dir"].format(client=client)).is_dir()
    command = onboarding["eval_command"]
    assert "{client}" in command and "{cases}" in command
    assert importlib.util.find_spec(command.split(" -m ", 1)[1].split()[0]) is not None
