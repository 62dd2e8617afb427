"""The callback state stored with a job."""

from __future__ import annotations

import json

import pytest

from api.callbacks import CallbackState


def test_state_round_trips_through_a_dict() -> None:
    state = CallbackState("https://hooks.example/cb", "failed", 5, "timed out after 10 s")
    assert CallbackState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert CallbackState.from_dict({"url": "https://h.example/"}) == CallbackState(
        "https://h.example/"
    )
    assert state.public() == {
        "status": "failed",
        "attempts": 5,
        "last_error": "timed out after 10 s",
    }
    with pytest.raises(ValueError, match="unknown callback status 'sent'"):
        CallbackState.from_dict({"url": "https://h.example/", "status": "sent"})
