"""deepfake-scan as installed (.venv/bin), run as a subprocess on real clips: in-process with
the test model, and against a real server started here; reports, progress and exit codes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.scan.main import build_parser
from settings import Settings
from tests.conftest import AppFactory
from tests.support.live_server import serve

SCRIPT = Path(sys.executable).parent / "deepfake-scan"
KEY = "cli-key"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, videos: dict[str, Path]) -> Path:
    """Two clips at different depths, a broken one, and files a folder scan must pass over."""
    root = tmp_path_factory.mktemp("archive")
    (root / "clips" / "nested").mkdir(parents=True)
    (root / ".cache").mkdir()
    shutil.copy(videos["short"], root / "clips" / "short.mp4")
    shutil.copy(videos["faces"], root / "clips" / "nested" / "faces.MP4")
    shutil.copy(videos["short"], root / ".cache" / "hidden.mp4")
    (root / "broken.mp4").write_text("this is not a video\n" * 20)
    (root / "notes.txt").write_text("not scanned\n")
    return root


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), "deepfake-scan is not installed: run `make install`"
    environ = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    environ.update(env)
    # In a temp dir, so that no .env file of the checkout is read.
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


def local_env(model_base: Path, **extra: str) -> dict[str, str]:
    return {
        "MODEL_BASE_PATH": str(model_base),
        "MODEL_VERSION": "1",
        "BACKEND": "embedded",
        **extra,
    }


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(row["path"]).name: row for row in rows}


def test_in_process_scan_of_a_folder(
    folder: Path, model_base: Path, tmp_path: Path, make_client: AppFactory
) -> None:
    result = run(
        tmp_path,
        str(folder),
        "--fps", "2",
        "--csv", "report.csv",
        "--json", "report.json",
        **local_env(model_base, THRESHOLD="0.5"),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the test model finds these faces "fake"
    rows = json.loads((tmp_path / "report.json").read_text())
    found = by_name(rows)
    assert set(found) == {"broken.mp4", "short.mp4", "faces.MP4"}  # recursive, hidden skipped

    client = make_client(BACKEND="embedded", THRESHOLD=0.5)
    for name, clip in (("short.mp4", "clips/short.mp4"), ("faces.MP4", "clips/nested/faces.MP4")):
        with (folder / clip).open("rb") as f:
            direct = client.post("/predict", params={"fps": 2}, files={"file": f}).json()
        row = found[name]
        assert row["score"] == pytest.approx(direct["score"], abs=1e-9)
        assert row["verdict"] == direct.get("verdict", direct["label"])
        assert (row["face_frames"], row["sampled_frames"]) == (
            direct["meta"]["face_frames"],
            direct["meta"]["sampled_frames"],
        )
        assert row["coverage"] == 1.0
        assert row["provenance"] == direct["provenance"]["summary"] == "no_provenance"
        assert row["error"] == ""
    assert found["faces.MP4"]["sampled_frames"] == 8  # 4 s at 2 fps
    assert found["faces.MP4"]["verdict"] == "fake"  # so the exit status is 1
    assert found["broken.mp4"]["verdict"] == "error"
    assert found["broken.mp4"]["error_code"] == "unsupported_media"

    with (tmp_path / "report.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["path"] for r in table] == [r["path"] for r in rows]
    assert [float(r["score"] or "nan") for r in table[1:]] == [r["score"] for r in rows[1:]]

    lines = result.stdout.splitlines()
    assert lines[0].split() == ["VERDICT", "SCORE", "FACES", "SECONDS", "PROVENANCE", "FILE"]
    verdicts = [row["verdict"] for row in rows]
    assert lines[-1] == (
        f"3 files: {verdicts.count('fake')} fake, {verdicts.count('real')} real, "
        f"{verdicts.count('uncertain')} uncertain, 1 failed"
    )
    assert any(
        line.split()[:3] == ["fake", f"{found['faces.MP4']['score']:.3f}", "8/8"]
        and line.split()[4] == "no_provenance"
        for line in lines
    )
    # Progress on stderr (not a terminal here: one line per file).
    assert "[3/3] " in result.stderr


def test_against_a_running_gateway(
    folder: Path, make_settings: Callable[..., Settings], tmp_path: Path, make_client: AppFactory
) -> None:
    settings = make_settings(BACKEND="embedded", REQUIRE_AUTH=True, API_KEYS=KEY, THRESHOLD=0.99)
    clip = folder / "clips" / "nested" / "faces.MP4"
    with serve(settings) as url:
        result = run(
            tmp_path, str(folder), "--url", url, "--fps", "2", "--json", "r.json",
            DEEPFAKE_TOKEN=KEY,
        )  # fmt: skip
        wrong = run(tmp_path, str(clip), "--url", url, "--token", "nope", "-q")
        unknown = run(tmp_path, str(clip), "--url", url, "--operating-point", "fpr0", "-q",
                      DEEPFAKE_TOKEN=KEY)  # fmt: skip
    assert result.returncode == 3, result.stderr  # none fake at 0.99, one file failed
    found = by_name(json.loads((tmp_path / "r.json").read_text()))
    with clip.open("rb") as f:
        direct = make_client(BACKEND="embedded").post(
            "/predict", params={"fps": 2}, files={"file": f}
        )
    assert found["faces.MP4"]["score"] == pytest.approx(direct.json()["score"], abs=1e-9)
    assert (found["faces.MP4"]["verdict"], found["faces.MP4"]["threshold"]) == ("real", 0.99)
    assert found["broken.mp4"]["error_code"] == "unsupported_media"
    assert settings.UPLOAD_DIR is not None
    assert list(settings.UPLOAD_DIR.iterdir()) == []  # every job was deleted after reading it

    assert wrong.returncode == 2  # nothing could be checked
    assert "unauthorized" in wrong.stdout
    assert wrong.stderr == ""  # -q
    assert unknown.returncode == 2
    assert "invalid_request: Unknown operating_point 'fpr0'" in unknown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: PATH"),
        (["missing.mp4"], "no such file or folder: missing.mp4"),
        (["empty"], "no video files found"),
        (["empty", "--fps", "0"], "argument --fps: must be in (0, 120]"),
        (["empty", "--url", "ftp://x"], "argument --url: must start with http"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no videos here")
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_help_explains_every_option(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for action in build_parser()._actions:
        assert action.help, action.dest
        for option in action.option_strings:
            assert option in text
    for code in ("0 every file", "1 at least one file judged fake", "2 usage error"):
        assert code in text


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.scan", "--help"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: deepfake-scan ")


def test_the_pipeline_is_imported_only_to_scan_in_process() -> None:
    # --help and --url must not pay for OpenCV and the backend.
    heavy = ("cv2", "api.service", "api.scan.local")
    code = (
        "import sys; import api.scan.main, api.scan.remote; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]", result.stderr
