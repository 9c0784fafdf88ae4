"""The box (jobs/sandbox): its uid, its network and its one way out, each tried from inside it.

Real kernel namespaces and uids (this takes root: CI runs as root); the egress proxy's tunnel with a
real socket on each side.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobs.errors import ConfigError
from jobs.sandbox import Box, ContainedBox, open_box
from jobs.sandbox.box import processes_of
from jobs.sandbox.egress import EgressProxy, EgressTally, check_host, host_allowed, internal
from jobs.workspace.git import Git
from jobs.workspace.repo import Workspace
from jobs.workspace.shell import run_repo_command

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a box takes root")
PY = "/usr/bin/python3"  # the box cannot run what lives under /root (pyenv's python, our venv's)


@pytest.fixture
def box() -> Iterator[Box]:
    with open_box("require") as opened:
        yield opened


def run_in(box: Box, code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        box.untrusted([PY, "-c", code]), capture_output=True, text=True, timeout=30, cwd=cwd, check=False
    )


@needs_root
def test_a_box_runs_as_its_own_uid_with_no_groups_and_no_privileges(box: Box) -> None:
    out = run_in(
        box, "import os; print(os.getuid(), os.getgid(), os.getgroups(), open('/proc/self/status').read())"
    )
    uid, gid, groups, status = out.stdout.split(" ", 3)
    assert int(uid) == box.uid and int(gid) == box.uid and groups == "[]", out.stderr
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["NoNewPrivs"].strip() == "1"
    assert int(fields["CapBnd"], 16) == int(fields["CapEff"], 16) == 0


@needs_root
def test_two_boxes_get_two_uids_and_neither_is_root() -> None:
    with open_box("require") as one, open_box("require") as two:
        assert one.uid != two.uid and 0 not in (one.uid, two.uid)


@needs_root
def test_the_box_network_has_only_its_loopback_and_counts_what_it_could_not_send(box: Box) -> None:
    outside = socket.create_server(("0.0.0.0", 0))
    port = outside.getsockname()[1]
    try:
        code = (
            "import socket\n"
            f"for host in ('127.0.0.1', '10.1.2.3', '8.8.8.8'):\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=2); print(host, 'reached')\n"
            "    except OSError as e: print(host, e.errno)\n"
            "print(open('/proc/net/dev').read().count(':'))\n"
        )
        before = box.unroutable()
        lines = run_in(box, code).stdout.splitlines()
    finally:
        outside.close()
    assert lines[:3] == ["127.0.0.1 111", "10.1.2.3 101", "8.8.8.8 101"]  # refused; unreachable twice
    assert lines[3] == "1"  # one interface: lo
    assert box.unroutable() - before >= 2


@needs_root
def test_a_socket_the_harness_listens_on_in_the_box_is_reachable_from_it_and_only_from_it(box: Box) -> None:
    server = box.listen()
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"from the harness")

    threading.Thread(target=answer, daemon=True).start()
    out = run_in(
        box, f"import socket; print(socket.create_connection(('127.0.0.1', {port})).recv(50).decode())"
    )
    assert out.stdout.strip() == "from the harness", out.stderr
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # our own network does not have it (unless something else of ours holds the port)
    server.close()


@needs_root
def test_the_box_cannot_read_or_signal_the_harness_nor_enter_its_directories(
    box: Box, tmp_path: Path
) -> None:
    secret = tmp_path / "harness-only"
    secret.mkdir(mode=0o700)
    (secret / "token").write_text("x")
    code = (
        "import os\n"
        f"me = {os.getpid()}\n"
        "for action in (lambda: open(f'/proc/{me}/environ').read(), lambda: os.kill(me, 0),\n"
        f"               lambda: open('{secret}/token').read(),\n"
        "               lambda: open('/etc/factory-box-test', 'w')):\n"
        "    try: action(); print('allowed')\n"
        "    except OSError as e: print(e.errno)\n"
    )
    assert run_in(box, code).stdout.split() == ["13", "1", "13", "13"]  # EACCES, EPERM, EACCES, EACCES
    assert not Path("/etc/factory-box-test").exists()


@needs_root
def test_hand_over_gives_the_tree_but_not_its_git_and_follows_no_link(box: Box, tmp_path: Path) -> None:
    tree = box.place("repo")
    (tree / ".git").mkdir(parents=True)
    (tree / ".git" / "config").write_text("[core]\n")
    (tree / "src").mkdir()
    (tree / "src" / "app.py").write_text("")
    outside = tmp_path / "outside.txt"
    outside.write_text("")
    (tree / "link").symlink_to(outside)
    box.hand_over(tree)
    assert {p.stat().st_uid for p in (tree, tree / "src", tree / "src" / "app.py")} == {box.uid}
    assert (tree / "link").lstat().st_uid == box.uid
    assert outside.stat().st_uid == 0 and (tree / ".git").stat().st_uid == 0
    assert (tree / ".git" / "config").stat().st_uid == 0
    out = run_in(box, "open('.git/config', 'a').write('[core]\\n\\thooksPath = /tmp\\n')", cwd=tree)
    assert "Permission denied" in out.stderr  # the box cannot plant config or hooks for our git


@needs_root
def test_closing_a_box_ends_its_network_and_removes_its_tree() -> None:
    box = open_box("require")
    assert isinstance(box, ContainedBox)
    holder = box.netns.path.parent.parent
    root = box.root
    box.close()
    assert not root.exists() and not holder.exists()


def test_off_is_an_open_box_and_require_without_root_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not open_box("off").contained
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ConfigError, match=r"CONTAINMENT: require, but .* not running as root"):
        open_box("require")
    opened = open_box("auto")
    assert not opened.contained and "not running as root" in opened.why_open


def test_an_open_box_runs_commands_as_they_are() -> None:
    box = Box()
    assert box.untrusted(["true"]) == ["true"] and box.trusted(["true"]) == ["true"]
    assert box.call(lambda: 7) == 7 and box.unroutable() == 0


# --- the egress proxy ----------------------------------------------------------------------------


def test_host_patterns_are_names_and_match_only_what_they_say() -> None:
    assert check_host(" PyPI.org ") == "pypi.org"
    for bad in ("pypi.org/simple", "*", "a b", "http://x.org", "127.0.0.1", "169.254.169.254", "::1"):
        with pytest.raises(ValueError, match="not a host name"):
            check_host(bad)
    assert host_allowed("files.example.com", ["*.example.com"]) and host_allowed("pypi.org.", ["pypi.org"])
    assert not host_allowed("example.com.evil.net", ["*.example.com", "example.com"])
    assert not host_allowed("evilpypi.org", ["pypi.org"])


def connect_through(proxy: EgressProxy, target: str) -> tuple[str, socket.socket]:
    host, port = proxy.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n", 1)[0].decode(), sock


def test_the_proxy_tunnels_to_an_allowed_host_and_refuses_and_counts_the_rest() -> None:
    upstream = socket.create_server(("127.0.0.1", 0))
    upstream_port = upstream.getsockname()[1]

    def echo() -> None:
        conn, _ = upstream.accept()
        with conn:
            conn.sendall(conn.recv(100).upper())

    threading.Thread(target=echo, daemon=True).start()
    opened: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        opened.append(address)  # the far end the proxy asked for; the test's server answers for it
        return socket.create_connection(("127.0.0.1", upstream_port), timeout=timeout)

    def resolve(host: str) -> list[str]:
        return {"registry.example.org": ["198.51.100.7"], "inside.example.org": ["10.1.2.3", "127.0.0.1"]}[
            host
        ]

    tally = EgressTally()
    hosts = ["registry.example.org", "*.example.org"]
    with EgressProxy(Box().listen(), hosts, tally, connect, resolve) as proxy:
        status, sock = connect_through(proxy, "registry.example.org:443")
        with sock:
            sock.sendall(b"tls bytes")
            assert status == "HTTP/1.1 200 Connection established" and sock.recv(100) == b"TLS BYTES"
        # Another host, another port, and an allowed name that resolves inside (no SSRF through us).
        for target in ("evil.example.net:443", "registry.example.org:22", "inside.example.org:443"):
            status, sock = connect_through(proxy, target)
            sock.close()
            assert status.startswith("HTTP/1.1 403"), status
    upstream.close()
    assert opened == [("198.51.100.7", 443)]  # the address we checked, not the name again
    assert dict(tally.allowed) == {"registry.example.org": 1}
    assert dict(tally.refused) == {
        "evil.example.net:443": 1,
        "registry.example.org:22": 1,
        "inside.example.org:443": 1,
    }


def test_internal_addresses_are_this_machine_metadata_and_private_networks() -> None:
    for address in (
        "127.0.0.1",
        "169.254.169.254",
        "10.0.0.5",
        "172.20.1.1",
        "192.168.1.1",
        "100.64.0.1",
        "::1",
        "fd00::1",
        "0.0.0.0",
    ):
        assert internal(address), address
    for address in ("151.101.0.223", "203.0.113.80", "2a04:4e42::223"):
        assert not internal(address), address


# --- what the harness does in the box's trees ------------------------------------------------------


@needs_root
def test_a_process_that_outlives_its_reaper_is_swept_before_we_touch_the_tree(
    box: Box, tmp_path: Path
) -> None:
    """A command leaves a process in a new session that forks as fast as it can: the subreaper may miss
    it; the sweep (SIGKILL to every process of the box's uid) does not."""
    work = box.place("work")
    work.mkdir()
    box.hand_over(work)
    survivor = "setsid sh -c 'while true; do sleep 0.05 & done' >/dev/null 2>&1 &"
    run = run_repo_command(f"{survivor} {survivor} exit 0", work, 10, box)
    assert run.exit_code == 0
    box.sweep()
    assert processes_of(box.box_uid if isinstance(box, ContainedBox) else -1) == []


@needs_root
def test_our_git_never_uses_a_git_dir_the_box_planted_in_its_tree(
    box: Box, remote: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "filter-ran"
    workspace = Workspace(Git(), str(remote), box.place("repo"), "factory/ix-1", "main", box)
    workspace.clone()
    assert (workspace.path / ".git").is_file() and workspace.git_dir is not None
    assert not workspace.git_dir.is_relative_to(workspace.path) and workspace.git_dir.stat().st_uid == 0
    planted = (
        "import os, subprocess\n"
        "os.rename('.git', '.git-was')\n"
        "subprocess.run(['git', 'init', '-q'], check=True)\n"
        f"open('.git/config', 'a').write('[filter \"x\"]\\n\\tclean = sh -c \"touch {marker}; cat\"\\n')\n"
        "open('.gitattributes', 'w').write('* filter=x\\n')\n"
        "open('notes.txt', 'w').write('the agent was here\\n')\n"
    )
    assert run_in(box, planted, cwd=workspace.path).returncode == 0
    sha = workspace.commit_all("the agent's change")
    assert sha is not None and not marker.exists()
    shown = workspace.git.out(["show", "--name-only", "--format=", "HEAD"], workspace.path).split()
    assert "notes.txt" in shown and ".gitattributes" in shown  # committed as files, never obeyed


@needs_root
def test_adopting_the_agents_tree_drops_setuid_bits_and_keeps_links_as_links(
    box: Box, remote: Path, tmp_path: Path
) -> None:
    workspace = Workspace(Git(), str(remote), box.place("repo"), "factory/ix-2", "main", box)
    workspace.clone()
    code = (
        "import os\n"
        "open('tool', 'w').write('#!/bin/sh\\n'); os.chmod('tool', 0o4755)\n"
        "os.symlink('/etc/hostname', 'link')\n"
    )
    assert run_in(box, code, cwd=workspace.path).returncode == 0
    workspace.adopt_agent_tree()
    tool, link = workspace.path / "tool", workspace.path / "link"
    assert oct(tool.stat().st_mode & 0o7777) == oct(0o755) and tool.stat().st_uid == box.uid
    assert link.is_symlink() and os.readlink(link) == "/etc/hostname"


@needs_root
def test_the_browser_runs_as_a_uid_of_its_own_with_its_profile_handed_to_it(box: Box, tmp_path: Path) -> None:
    """Chromium renders the target's pages: neither our uid nor the agent's, no capability. (A script
    that prints its uid stands in for Chromium, launched as Playwright launches it.)"""
    assert isinstance(box, ContainedBox)
    profile = tmp_path / "profile"
    profile.mkdir()
    stand_in = box.readable_dir("stand-in-") / "chromium"
    stand_in.write_text("#!/bin/sh\nid -u\n")
    stand_in.chmod(0o755)
    launcher = box.chromium(str(stand_in))
    out = subprocess.run(
        [launcher, f"--user-data-dir={profile}", "-u"], capture_output=True, text=True, check=False
    )
    assert out.stdout.strip() == str(box.browser_uid) and box.browser_uid not in (0, box.uid)
    assert profile.stat().st_uid == box.browser_uid
    assert Path(launcher).stat().st_uid == 0 and Path(launcher).stat().st_mode & 0o022 == 0


@needs_root
def test_a_program_behind_a_directory_only_we_can_enter_is_run_from_a_copy_the_box_can_reach(
    box: Box, tmp_path: Path
) -> None:
    """A checkout in a home or a ``mktemp -d`` (0700): the box's uid cannot execute our bundled CLI
    there, so it gets a copy, shared per machine, that it can run but not change."""
    assert box.runnable(Path("/usr/bin/id")) == Path("/usr/bin/id")  # reachable: no copy
    hidden = tmp_path / "private" / "id"
    hidden.parent.mkdir(mode=0o700)
    shutil.copy2("/usr/bin/id", hidden)
    copy = box.runnable(hidden)
    assert copy != hidden and box.runnable(hidden) == copy  # one copy, reused
    assert copy.stat().st_uid == 0 and copy.parent.stat().st_mode & 0o022 == 0
    blocked = subprocess.run(box.untrusted([str(hidden), "-u"]), capture_output=True, text=True, check=False)
    ran = subprocess.run(box.untrusted([str(copy), "-u"]), capture_output=True, text=True, check=False)
    assert blocked.returncode != 0 and ran.stdout.strip() == str(box.uid)


@needs_root
def test_a_walk_of_the_boxs_tree_never_changes_a_hard_link_to_a_file_elsewhere(
    box: Box, tmp_path: Path
) -> None:
    """Where ``fs.protected_hardlinks`` is off, the box may link one of root's files into its tree; handing
    the tree over (to the agent or the app) or taking it back must not chown or chmod that file. (Root
    makes the link here: with the protection on, as on this machine, the box could not.)"""
    assert isinstance(box, ContainedBox)
    outside = tmp_path / "root-owned"
    outside.write_text("root's\n")
    outside.chmod(0o4755)
    tree = box.place("tree")
    tree.mkdir()
    (tree / "own").write_text("the box's\n")
    os.link(outside, tree / "linked")
    steps: list[Callable[[], None]] = [
        lambda: box.hand_over(tree),
        lambda: box.hand_over(tree, "app"),
        lambda: box.take_back(tree),
    ]
    for step in steps:
        step()
        info = outside.stat()
        assert (info.st_uid, info.st_mode & 0o7777) == (0, 0o4755)
    box.hand_over(tree, "app")
    assert (tree / "own").stat().st_uid == box.app_uid
