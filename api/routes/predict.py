"""POST /predict: upload a video or an image, get P(fake) for the faces in it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import Authenticated, Options, Service, streamed_upload
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
    UploadTooLarge,
)
from api.middleware import context_of
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
    # Admission first: a refused request costs no upload, no disk and no decoding.
    with service.admission.admit():
        async with streamed_upload(request, service.settings) as upload:
            log_fields["upload_bytes"] = upload.size
            return await service.predict(
                upload.path,
                options,
                on_record=lambda record: log_fields.update(record.log_fields()),
            )
