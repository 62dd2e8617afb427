"""The C2PA manifest store of a file, read and validated by c2pa-rs (c2pa-python), bounded.

Bounds, in the order they apply:
- api.provenance.locate walks the container first: no embedded manifest, no c2pa call; a
  manifest store over MAX_MANIFEST_BYTES is refused unread (c2pa-rs parses it in memory).
- formats c2pa-rs reads whole (JPEG, WebP, AVI) are only handed over up to MAX_WHOLE_FILE_BYTES.
- the file goes to c2pa-rs as a DeadlineStream: past the deadline its reads fail, and so does
  the validation (error c2pa_timeout). Validating a signed 100 MB MP4 hashes all of it in
  ~0.15 s, so the default timeout only stops pathological files.
- c2pa-rs hashes in buffers of up to 256 MiB: files over LARGE_FILE_BYTES are validated one at
  a time per process, so concurrent uploads do not each hold such a buffer.
- the settings turn off every network fetch (remote manifests, OCSP): a manifest never makes
  the gateway connect anywhere.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa

from api.provenance import sourcetypes
from api.provenance.formats import C2PA_MIME, WHOLE_FILE_FORMATS
from api.provenance.locate import locate
from api.provenance.report import Action, C2paReport, ProvenanceError, SignerInfo
from api.provenance.stream import DeadlineStream

MAX_MANIFEST_BYTES = 32 * 1024 * 1024  # real ones, thumbnails and ingredients included: < 5 MB
MAX_WHOLE_FILE_BYTES = 128 * 1024 * 1024
LARGE_FILE_BYTES = 64 * 1024 * 1024
# Ingredient manifests followed at most when looking for an AI-generated ancestor.
MAX_INGREDIENT_MANIFESTS = 64

# Validation codes about who signed, not about whether the file is intact: reported as
# `trusted`, not as validation errors.
TRUST_CODES = frozenset({"signingCredential.untrusted", "signingCredential.trusted"})

_large_files = threading.BoundedSemaphore(1)


@dataclass(frozen=True, slots=True)
class C2paOutcome:
    report: C2paReport | None
    error: ProvenanceError | None = None


def c2pa_settings(trust_anchors: str | None) -> str:
    """The c2pa-rs settings (its JSON schema: "verify", "trust" sections) for one read."""
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return json.dumps(settings)


def read_c2pa(path: Path, format: str, *, trust_anchors: str | None, timeout: float) -> C2paOutcome:
    """The active manifest of the file at `path`, or None when it has none (or c2pa cannot
    read its format); an error instead of an exception when it cannot be read."""
    mime = C2PA_MIME.get(format)
    if mime is None:
        return C2paOutcome(None)
    deadline = time.monotonic() + timeout
    located = locate(path, format)
    if located.found is False:
        return C2paOutcome(None)
    if located.size > MAX_MANIFEST_BYTES:
        return _error(
            "c2pa_too_large",
            f"the manifest store is {located.size} bytes, more than {MAX_MANIFEST_BYTES}",
        )
    size = path.stat().st_size
    if format in WHOLE_FILE_FORMATS and size > MAX_WHOLE_FILE_BYTES:
        return _error(
            "c2pa_too_large",
            f"a {format} file of {size} bytes is read whole to check its manifest; "
            f"only files up to {MAX_WHOLE_FILE_BYTES} bytes are",
        )
    if size <= LARGE_FILE_BYTES:
        return _read(path, mime, trust_anchors, deadline, located.found)
    if not _large_files.acquire(timeout=max(0.0, deadline - time.monotonic())):
        return _error("c2pa_timeout", "another large file was being validated")
    try:
        return _read(path, mime, trust_anchors, deadline, located.found)
    finally:
        _large_files.release()


def _read(
    path: Path, mime: str, trust_anchors: str | None, deadline: float, located: bool | None
) -> C2paOutcome:
    with path.open("rb") as raw:
        stream = DeadlineStream(raw, deadline)
        try:
            context = c2pa.Context.from_json(c2pa_settings(trust_anchors))
            try:
                with c2pa.Reader(mime, stream, None, context) as reader:
                    store = json.loads(reader.json())
            finally:
                context.close()
        except c2pa.C2paError.ManifestNotFound:
            if located:  # a C2PA segment or box is there, but holds no manifest store
                return _error("c2pa_malformed", "the file's C2PA data holds no manifest store")
            return C2paOutcome(None)
        except c2pa.C2paError as exc:
            if stream.timed_out:
                return _error("c2pa_timeout", "reading the manifest took too long")
            return _error("c2pa_malformed", _first_line(str(exc)))
    try:
        return C2paOutcome(parse_store(store, trusted_configured=trust_anchors is not None))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _error("c2pa_malformed", f"unexpected manifest store shape ({exc!r})")


def parse_store(store: dict[str, Any], *, trusted_configured: bool) -> C2paReport:
    """The report of a c2pa-rs manifest store (Reader.json()) for its active manifest."""
    manifests: dict[str, Any] = store["manifests"]
    active: dict[str, Any] = manifests[store["active_manifest"]]
    state = store.get("validation_state")
    failures = _failures(store)
    errors = [(code, text) for code, text in failures if code not in TRUST_CODES]
    if state is None:  # stores without a state: its failures decide
        state = "Invalid" if errors else "Valid"
    signature = active.get("signature_info") or {}
    ingredients = active.get("ingredients") or []
    return C2paReport(
        validation="invalid" if state == "Invalid" else "valid",
        validation_errors=errors,
        trusted=trusted_configured and state == "Trusted",
        claim_generator=_claim_generator(active),
        title=_str(active.get("title")),
        signer=SignerInfo(
            issuer=_str(signature.get("issuer")), common_name=_str(signature.get("common_name"))
        ),
        signed_at=_str(signature.get("time")),
        actions=actions_of(active),
        ingredients=len(ingredients),
        ai_ingredient=_ai_ancestor(ingredients, manifests),
    )


def actions_of(manifest: dict[str, Any]) -> list[Action]:
    actions: list[Action] = []
    for assertion in manifest.get("assertions") or []:
        label = str(assertion.get("label", ""))
        if label.split(".v", 1)[0] != "c2pa.actions":
            continue
        for item in (assertion.get("data") or {}).get("actions") or []:
            agent = item.get("softwareAgent")
            if isinstance(agent, dict):  # actions v2: a claim generator info map
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
            actions.append(
                Action(
                    action=str(item.get("action", "")),
                    digital_source_type=_str(item.get("digitalSourceType")),
                    software_agent=_str(agent),
                )
            )
    return actions


def _ai_ancestor(ingredients: list[dict[str, Any]], manifests: dict[str, Any]) -> bool:
    """Whether any ingredient's manifest, or one of theirs, declares AI in its actions."""
    todo = [i.get("active_manifest") for i in ingredients]
    seen: set[str] = set()
    while todo and len(seen) < MAX_INGREDIENT_MANIFESTS:
        label = todo.pop()
        if not isinstance(label, str) or label in seen or label not in manifests:
            continue
        seen.add(label)
        manifest = manifests[label]
        for action in actions_of(manifest):
            source = action.digital_source_type
            if sourcetypes.is_ai_generated(source) or sourcetypes.is_ai_edited(source):
                return True
        todo.extend(i.get("active_manifest") for i in manifest.get("ingredients") or [])
    return False


def _failures(store: dict[str, Any]) -> list[tuple[str, str]]:
    results = store.get("validation_results")
    if isinstance(results, dict):
        items = (results.get("activeManifest") or {}).get("failure") or []
    else:  # the older flat list
        items = store.get("validation_status") or []
    return [(str(i.get("code", "")), str(i.get("explanation", ""))) for i in items]


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        info = infos[0]
        return " ".join(str(info[k]) for k in ("name", "version") if info.get(k)) or None
    return _str(manifest.get("claim_generator"))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "unreadable manifest"


def _error(code: str, message: str) -> C2paOutcome:
    return C2paOutcome(None, ProvenanceError(code, message))
