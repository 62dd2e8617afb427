"""POST /predict: upload a video or an image, get P(fake) for the faces in it."""

from __future__ import annotations

import threading
from contextlib import AsyncExitStack

from fastapi import APIRouter, Request

from api.deps import (
    Authenticated,
    Options,
    Service,
    streamed_upload,
    unless_disconnected,
)
from api.errors import (
    BackendBadResponse,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    EmptyUpload,
    MissingUpload,
    Overloaded,
    Unauthorized,
    UnsupportedMedia,
    UploadTimeout,
    UploadTooLarge,
)
from api.middleware import context_of
from api.pipeline.extract import stop_when
from api.routes.openapi import UPLOAD_BODY, error_responses
from api.schemas import PredictResponse

router = APIRouter(tags=["predict"])

ERRORS = error_responses(
    EmptyUpload,
    Unauthorized,
    UploadTooLarge,
    UnsupportedMedia,
    MissingUpload,
    BackendError,
    BackendBadResponse,
    Overloaded,
    BackendUnavailable,
    BackendTimeout,
    UploadTimeout,
)


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=ERRORS,
    openapi_extra=UPLOAD_BODY,
    dependencies=[Authenticated],
    summary="Score the faces in a video or an image",
)
async def predict(request: Request, service: Service, options: Options) -> PredictResponse:
    context = context_of(request.scope)
    log_fields = context.fields if context else {}
    admission = service.admission
    # When every processing slot is busy already, a refusal costs no upload, disk or decoding.
    admission.refuse_if_busy()
    async with AsyncExitStack() as stack:
        # An upload slot while the body arrives (a client may take its time, up to
        # UPLOAD_IDLE_TIMEOUT between pieces); a processing slot only once it has arrived.
        with admission.receiving_upload():
            upload = await stack.enter_async_context(streamed_upload(request, service.settings))
        log_fields["upload_bytes"] = upload.size
        with admission.processing_slot():

            async def work(stop: threading.Event) -> PredictResponse:
                return await service.predict(
                    upload.path,
                    options,
                    on_record=lambda record: log_fields.update(record.log_fields()),
                    on_progress=stop_when(stop),
                )

            return await unless_disconnected(request, work)
