"""localsora's settings come from one class: its flags, variables, ranges and the README's table follow it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from localsora.config import (
    FLAGS,
    Settings,
    env_name,
    from_env,
    parse_args,
    readme_block,
    settings_table,
)
from localsora.engines import ENGINES
from localsora.imitation import DIALECTS

REPO = Path(__file__).resolve().parent.parent


def run_localsora(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """`python -m localsora ARGS` with only the LOCALSORA_* variables given; the timeout only guards a hang."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALSORA_")}
    env.update(variables, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "localsora", *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=REPO)


def refused(argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    """What `python -m localsora` says as it refuses to start; it must exit with status 2, as argparse does."""
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv, environ)
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_the_readme_table_is_the_one_the_settings_make() -> None:
    readme = (REPO / "README.md").read_text()
    assert readme_block(readme) == settings_table(), (
        "README.md's settings table differs from localsora.config.Settings: "
        "run `.venv/bin/python -m localsora.config --readme README.md`")


def test_every_setting_has_a_description_and_the_help_lists_every_flag() -> None:
    undescribed = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert not undescribed, f"settings without a description: {undescribed}"
    shown = run_localsora("--help")
    assert shown.returncode == 0, shown.stderr
    for name, flag in FLAGS.items():
        assert flag in shown.stdout and env_name(name) in shown.stdout, name
    assert "--azure-limits" in shown.stdout


def test_the_choices_are_the_dialects_and_engines_the_server_has() -> None:
    assert get_args(Settings.model_fields["dialect"].annotation) == tuple(DIALECTS)
    assert get_args(Settings.model_fields["engine"].annotation) == tuple(ENGINES)


def test_an_out_of_range_flag_stops_the_server_naming_the_flag(tmp_path: Path) -> None:
    started = run_localsora("--error-rate", "2", "--data-dir", str(tmp_path / "data"), "--port", "9")
    assert started.returncode == 2
    assert "argument --error-rate" in started.stderr and "less than or equal to 1" in started.stderr
    assert "Traceback" not in started.stderr and not (tmp_path / "data").exists(), "refused before anything starts"


def test_an_out_of_range_variable_stops_the_server_naming_it_and_its_flag(tmp_path: Path) -> None:
    started = run_localsora("--data-dir", str(tmp_path / "data"), LOCALSORA_PORT="70000")
    assert started.returncode == 2
    assert "LOCALSORA_PORT (--port)" in started.stderr and "'70000'" in started.stderr
    assert "Traceback" not in started.stderr


@pytest.mark.parametrize(("argv", "environ", "says"), [
    (["--port", "0"], {}, "argument --port: Input should be greater than or equal to 1"),
    (["--port", "eighty"], {}, "argument --port: Input should be a valid integer"),
    (["--max-concurrent-jobs", "0"], {}, "argument --max-concurrent-jobs"),
    (["--rate-window", "0"], {}, "argument --rate-window: Input should be greater than 0"),
    (["--render-delay", "inf"], {}, "argument --render-delay"),
    ([], {"LOCALSORA_ERROR_RATE": "-0.5"}, "LOCALSORA_ERROR_RATE (--error-rate)"),
    ([], {"LOCALSORA_DIALECT": "triton"}, "LOCALSORA_DIALECT (--dialect)"),
    (["--dialect", "triton"], {}, "argument --dialect: invalid choice: 'triton'"),
    (["--device", "gpu"], {}, "argument --device: must be auto, cuda, cuda:N, mps or cpu; got 'gpu'"),
    (["--models", "sora-2"], {}, "argument --models: Bad model spec 'sora-2'"),
    (["--durations", ","], {}, "argument --durations"),
    ([], {"LOCALSORA_ENABLE_FAULTS": "maybe"}, "LOCALSORA_ENABLE_FAULTS (--enable-faults): expected 1/true/yes/on"),
    (["--engine", "diffusers"], {}, "--engine diffusers needs --model"),
])
def test_values_no_server_could_run_with_are_refused_at_start_up(
    argv: list[str], environ: dict[str, str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert says in refused(argv, environ, capsys)


def test_variables_and_flags_read_lists_model_specs_and_switches_alike() -> None:
    variables = {"LOCALSORA_DURATIONS": "4, 8", "LOCALSORA_EXTENSION_DURATIONS": "2,4",
                 "LOCALSORA_BLOCKED_WORDS": "gore,violence", "LOCALSORA_MODELS": "wan=832x480,480x832; tiny=64x64",
                 "LOCALSORA_ENABLE_FAULTS": "yes", "LOCALSORA_DATA_DIR": "/srv/videos", "LOCALSORA_RENDER_DELAY": "1.5",
                 "LOCALSORA_URL": "http://127.0.0.1:1"}  # the studio's variable, not a setting: left alone
    from_variables = parse_args([], variables)
    assert from_variables.durations == ("4", "8") and from_variables.extension_durations == ("2", "4")
    assert from_variables.blocked_words == ("gore", "violence")
    assert from_variables.models == {"wan": ("832x480", "480x832"), "tiny": ("64x64",)}
    assert from_variables.enable_faults is True and from_variables.data_dir == Path("/srv/videos")
    assert from_variables.render_delay == 1.5
    from_flags = parse_args(["--durations", "4, 8", "--extension-durations", "2,4", "--blocked-words", "gore,violence",
                             "--models", "wan=832x480,480x832; tiny=64x64", "--enable-faults",
                             "--data-dir", "/srv/videos", "--render-delay", "1.5"], {})
    assert from_flags == from_variables
    for off in ("0", "false", "No", "off"):
        assert parse_args([], {"LOCALSORA_ENABLE_FAULTS": off}).enable_faults is False
    assert parse_args([], {}).enable_faults is False


def test_a_flag_wins_over_its_variable_and_an_empty_variable_is_unset() -> None:
    settings = parse_args(["--port", "9001", "--enable-faults"],
                          {"LOCALSORA_PORT": "9000", "LOCALSORA_ENABLE_FAULTS": "off", "LOCALSORA_RATE_LIMIT": "5",
                           "LOCALSORA_HOST": ""})
    assert settings.port == 9001 and settings.enable_faults is True
    assert settings.rate_limit == 5, "a variable no flag overrides still applies"
    assert settings.host == "127.0.0.1"
    azure = parse_args(["--azure-limits"], {"LOCALSORA_RATE_LIMIT": "100"})
    assert (azure.rate_limit, azure.rate_window) == (2, 60.0)


def test_settings_built_in_code_take_only_what_they_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSORA_PORT", "9999")
    monkeypatch.setenv("LOCALSORA_BLOCKED_WORDS", "gore")
    assert Settings().port == 8000 and Settings().blocked_words == (), "a test's server ignores the shell's variables"
    assert from_env().port == 9999 and from_env().blocked_words == ("gore",)
    assert from_env({}, port=9100, model=None).port == 9100, "an override of None is no override"


def test_values_changed_while_running_are_checked_too() -> None:
    settings = Settings()
    settings.blocked_words = ("gore",)
    settings.render_delay = 2
    assert settings.blocked_words == ("gore",) and settings.render_delay == 2.0
    with pytest.raises(ValueError, match="error_rate"):
        settings.error_rate = 1.5
    assert settings.error_rate == 0.0


def test_the_api_key_is_never_shown(capsys: pytest.CaptureFixture[str]) -> None:
    key = "sk-do-not-print-me"
    settings = Settings(api_key=key)
    assert settings.api_key == key
    assert key not in repr(settings) and key not in str(settings)
    with pytest.raises(ValueError) as bad:
        Settings(api_key=key, engine="diffusers")
    assert key not in str(bad.value)
    said = refused(["--error-rate", "2"], {"LOCALSORA_API_KEY": key}, capsys)
    assert "--error-rate" in said and key not in said
