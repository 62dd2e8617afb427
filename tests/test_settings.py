from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from settings import PROJECT_ROOT, BackendKind, Settings


def test_original_names_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    s = Settings(_env_file=None)
    assert (s.MODEL_NAME, s.MODEL_VERSION, s.TF_SERVING_URL) == ("deepfake", 2, None)
    assert (s.DEFAULT_FPS, s.MAX_FRAMES, s.THRESHOLD) == (2.0, 256, None)  # None: card or 0.5
    assert (s.REQUEST_TIMEOUT, s.REQUIRE_AUTH, s.JWT_SECRET.get_secret_value()) == (30.0, False, "")
    assert s.backend_kind is BackendKind.EMBEDDED
    assert s.model_dir.parts[-3:] == ("models", "deepfake", "2")  # v1 kept for rollback


def test_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_SERVING_URL", "http://tf-serving:8501")
    monkeypatch.setenv("THRESHOLD", "0.7")
    monkeypatch.setenv("MODEL_VERSION", "3")
    s = Settings(_env_file=None)
    assert s.THRESHOLD == 0.7
    assert s.backend_kind is BackendKind.TF_SERVING
    assert s.model_dir.name == "3"


def test_read_from_a_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEFAULT_FPS", raising=False)
    env = tmp_path / ".env"
    env.write_text("DEFAULT_FPS=4.5\nBACKEND=embedded\nTF_SERVING_URL=http://x:8501\n")
    s = Settings(_env_file=env)
    assert s.DEFAULT_FPS == 4.5
    assert s.backend_kind is BackendKind.EMBEDDED  # explicit choice wins over the URL


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"BACKEND": "tfserving"}, "needs TF_SERVING_URL"),
        ({"REQUIRE_AUTH": True}, "needs JWT_SECRET or API_KEYS"),
        ({"CORS_ORIGINS": ["*"], "CORS_ALLOW_CREDENTIALS": True}, "cannot be combined"),
        ({"THRESHOLD": 1.5}, "less than or equal to 1"),
        ({"DEFAULT_FPS": 0}, "greater than or equal to 0.01"),
        ({"MAX_FRAMES": 0}, "greater than or equal to 1"),
        ({"BACKEND": "onnx"}, "auto"),
        ({"MODEL_NAME": "../etc"}, "pattern"),
    ],
)
def test_invalid_values_are_refused_at_start(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_env_example_lists_every_setting() -> None:
    text = (PROJECT_ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert set(Settings.model_fields) <= listed
    # ... and every value it sets is valid.
    values = dict(re.findall(r"^([A-Z0-9_]+)=(.+)$", text, flags=re.MULTILINE))
    Settings(_env_file=None, **values)


def test_readme_documents_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"| `{name}` |" not in readme]
    assert missing == []
