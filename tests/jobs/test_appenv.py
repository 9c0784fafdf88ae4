"""The app's .env (``jobs/appenv.py``): parsed as the usual tools read it, refused with the line's number
(never its content), and refused when any uid could read it in a contained run."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from jobs.appenv import load_app_env, parse_env, readable_by_anyone
from jobs.errors import ConfigError
from jobs.settings import load_settings

SECRET = f"sk_live_{secrets.token_hex(12)}"


def test_the_usual_forms_are_read() -> None:
    text = (
        "# the app's configuration\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = padded  \n"
        "COMMENTED=kept # not this\n"
        "HASH=a#b\n"
        "SINGLE='kept as is: \\n $HOME'\n"
        'DOUBLE="line one\\nline \\"two\\""\n'
        "EMPTY=\n"
        "URL=postgres://app:pw@db:5432/app?sslmode=disable\n"
        "PLAIN=last wins\n"
    )
    assert parse_env(text) == {
        "PLAIN": "last wins",
        "EXPORTED": "yes",
        "SPACED": "padded",
        "COMMENTED": "kept",
        "HASH": "a#b",
        "SINGLE": "kept as is: \\n $HOME",
        "DOUBLE": 'line one\nline "two"',
        "EMPTY": "",
        "URL": "postgres://app:pw@db:5432/app?sslmode=disable",
    }


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (f"{SECRET}\n", "expected KEY=value"),
        (f"1KEY={SECRET}\n", "expected KEY=value"),
        (f"KEY='{SECRET}\n", "single quote is not closed"),
        (f'KEY="{SECRET}\n', "double quote is not closed"),
        (f'KEY="{SECRET}" trailing\n', "text after the closing quote"),
    ],
    ids=["no-equals", "bad-key", "open-single", "open-double", "after-quote"],  # never the secret
)
def test_a_bad_line_is_named_by_its_number_never_by_its_content(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "app.env"
    path.write_text(f"GOOD=1\n{line}")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_app_env(path, contained=True)
    message = str(caught.value)
    assert "line 2" in message and why in message
    assert SECRET not in message


def test_a_file_any_uid_can_read_is_refused_when_the_agent_has_a_uid_of_its_own(tmp_path: Path) -> None:
    """Readable means the file's r for others and x for others on every directory above it."""
    hidden = tmp_path / "app.env"  # pytest's tmp root is 0700: no other uid passes it
    hidden.write_text(f"STRIPE_KEY={SECRET}\n")
    hidden.chmod(0o644)
    assert not readable_by_anyone(hidden)
    assert load_app_env(hidden, contained=True).environment() == {"STRIPE_KEY": SECRET}
    open_dir = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        open_dir.chmod(0o755)
        exposed = open_dir / "app.env"
        exposed.write_text(f"STRIPE_KEY={SECRET}\n")
        exposed.chmod(0o644)
        assert readable_by_anyone(exposed)
        with pytest.raises(ConfigError, match=r"readable by every user \(mode 0644\).*chmod o-r"):
            load_app_env(exposed, contained=True)
        assert load_app_env(exposed, contained=False).names == ["STRIPE_KEY"]  # an open box: all is us
        exposed.chmod(0o640)
        env = load_app_env(exposed, contained=True)
        assert env.names == ["STRIPE_KEY"] and SECRET not in repr(env)
    finally:
        shutil.rmtree(open_dir)


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"app\.env does not exist"):
        load_app_env(tmp_path / "app.env", contained=False)
    (tmp_path / "bin.env").write_bytes(b"KEY=\xff\xfe\n")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_app_env(tmp_path / "bin.env", contained=False)
    with pytest.raises(ConfigError, match="is not a file"):
        load_app_env(tmp_path, contained=False)


def test_multi_line_values_expansion_and_a_byte_order_mark_read_as_python_dotenv_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)  # the job's environment is never expanded into the app's
    text = (
        "\ufeffHOST=db.internal\n"
        'PEM="-----BEGIN KEY-----\nline two\n-----END KEY-----"\n'
        "NOTE='it\\'s \\\\ fine'\n"
        "URL=postgres://${HOST}:5432/app\n"
        'QUOTED="${HOST}/${MISSING:-fallback}/${MISSING}"\n'
        "LITERAL='${HOST}'\n"
        "LEAK=${GITHUB_TOKEN}\n"
    )
    assert parse_env(text) == {
        "HOST": "db.internal",
        "PEM": "-----BEGIN KEY-----\nline two\n-----END KEY-----",
        "NOTE": "it's \\ fine",
        "URL": "postgres://db.internal:5432/app",
        "QUOTED": "db.internal/fallback/",
        "LITERAL": "${HOST}",
        "LEAK": "",
    }


def test_only_values_of_secret_keys_are_masked_and_never_what_browsers_are_sent(tmp_path: Path) -> None:
    """Masking ``development`` would mask it in every diff and refuse every commit holding it."""
    path = tmp_path / "app.env"
    path.write_text(
        f"STRIPE_SECRET_KEY={SECRET}\nDATABASE_PASSWORD=hunter2-long\nSESSION_SALT=pepper-pepper\n"
        "NODE_ENV=development\nAPI_URL=http://localhost:3000\nNEXT_PUBLIC_MAPS_KEY=pk_public_123456\n"
    )
    env = load_app_env(path, contained=False)
    masked = sorted(value.get_secret_value() for value in env.secret_values())
    assert masked == sorted([SECRET, "hunter2-long", "pepper-pepper"])
    assert len(env.environment()) == 6


def test_the_setting_names_a_path() -> None:
    assert load_settings({"APP_ENV_FILE": "/secrets/factory-app-env/app.env"}).app_env_file == Path(
        "/secrets/factory-app-env/app.env"
    )
    assert load_settings({}).app_env_file is None
