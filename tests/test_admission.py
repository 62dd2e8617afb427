"""Admission: uploads being received and predictions being processed are counted apart."""

from __future__ import annotations

import pytest

from api.admission import Admission
from api.errors import Overloaded


def test_uploads_being_received_take_no_processing_slot() -> None:
    admission = Admission(processing_limit=1, upload_limit=3)
    with admission.receiving_upload(), admission.receiving_upload(), admission.receiving_upload():
        admission.refuse_if_busy()  # three uploads arriving: processing is still free
        with admission.processing_slot():
            assert (admission.receiving, admission.processing) == (3, 1)
    assert (admission.receiving, admission.processing) == (0, 0)


def take(admission: Admission, what: str) -> None:
    if what == "refuse_if_busy":
        admission.refuse_if_busy()
        return
    with getattr(admission, what)():
        pass


@pytest.mark.parametrize(
    ("hold", "refused", "setting"),
    [
        ("receiving_upload", "receiving_upload", "MAX_CONCURRENT_UPLOADS=2"),
        ("processing_slot", "processing_slot", "MAX_INFLIGHT_REQUESTS=2"),
        ("processing_slot", "refuse_if_busy", "MAX_INFLIGHT_REQUESTS=2"),
    ],
)
def test_over_a_limit_is_refused_with_a_message_naming_its_setting(
    hold: str, refused: str, setting: str
) -> None:
    admission = Admission(processing_limit=2, upload_limit=2)
    with getattr(admission, hold)(), getattr(admission, hold)():
        with pytest.raises(Overloaded, match=setting) as caught:
            take(admission, refused)
        assert caught.value.headers == {"Retry-After": "1"}
    assert (admission.receiving, admission.processing) == (0, 0)


@pytest.mark.parametrize("slot", ["receiving_upload", "processing_slot"])
def test_a_slot_is_given_back_when_the_request_fails(slot: str) -> None:
    admission = Admission(processing_limit=1, upload_limit=1)
    with pytest.raises(RuntimeError), getattr(admission, slot)():
        raise RuntimeError("the upload or the prediction failed")
    assert (admission.receiving, admission.processing) == (0, 0)
