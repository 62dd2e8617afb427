"""Job callbacks: the job's JSON POSTed to a client's URL when the job ends, signed, retried.

Plain functions, no web framework: the jobs backends call them (api/jobs/ stores a
`CallbackState` with the job and runs `deliver` once the job has ended).

- `check_callback_url` runs before a job is accepted (422 `invalid_request` when refused) and
  again before every delivery attempt: only http(s), no credentials in the URL, and unless the
  host is in CALLBACK_ALLOW_HOSTS every address the host resolves to must be public.
- `deliver` connects to the address it has just checked (the request goes to that IP with the
  original Host header and TLS server name), so a DNS answer that changes between the check and
  the connection (DNS rebinding) cannot send the callback to an internal address.
- Receivers check a callback with `verify`: an HMAC-SHA256 of the raw body with CALLBACK_SECRET
  in `X-Signature: sha256=<hex>`, and `X-Signature-Timestamp: <unix seconds>`, which must equal
  the body's `callback.sent_at` (the signature covers the body only, so the timestamp is in the
  body too) and be recent. A retried delivery sends the same job again: de-duplicate by job id.
"""

from api.callbacks.addresses import IPAddress
from api.callbacks.attempt import ERROR_SNIPPET_CHARS, MAX_RESPONSE_BYTES
from api.callbacks.delivery import (
    ATTEMPT_HEADER,
    JOB_ID_HEADER,
    MAX_BACKOFF,
    USER_AGENT,
    Sleep,
    callback_client,
    deliver,
)
from api.callbacks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from api.callbacks.state import CallbackState, CallbackStatus
from api.callbacks.urls import MAX_URL_LENGTH, Resolver, check_callback_url, resolve_host

__all__ = [
    "ATTEMPT_HEADER",
    "ERROR_SNIPPET_CHARS",
    "JOB_ID_HEADER",
    "MAX_BACKOFF",
    "MAX_RESPONSE_BYTES",
    "MAX_URL_LENGTH",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "USER_AGENT",
    "CallbackState",
    "CallbackStatus",
    "IPAddress",
    "Resolver",
    "Sleep",
    "callback_client",
    "check_callback_url",
    "deliver",
    "resolve_host",
    "sign",
    "verify",
]
