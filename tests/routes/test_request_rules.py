"""Query rules shared by /predict and /jobs, checked before a byte of the upload is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AppFactory


@pytest.mark.parametrize("route", ["/predict", "/jobs"])
@pytest.mark.parametrize(
    ("fps", "status", "message"),
    [
        (1e-9, 422, "greater than or equal to 0.01"),  # a frame every 31 years
        (0.009, 422, "greater than or equal to 0.01"),
        (0.01, None, ""),  # the minimum: one frame per 100 s
        (120, None, ""),
        (120.5, 422, "less than or equal to 120"),
    ],
)
def test_fps_has_a_sensible_minimum(
    make_client: AppFactory,
    videos: dict[str, Path],
    route: str,
    fps: float,
    status: int | None,
    message: str,
) -> None:
    client = make_client(BACKEND="embedded")
    files = {"file": ("f.mp4", videos["short"].read_bytes())}
    response = client.post(route, params={"fps": fps}, files=files)
    accepted = {"/predict": 200, "/jobs": 202}[route]
    assert response.status_code == (status or accepted), response.text
    if status == 422:
        assert response.json()["code"] == "invalid_request"
        assert "fps" in response.json()["error"]
        assert message in response.json()["error"]
