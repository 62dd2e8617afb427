"""The gateway's configuration: one object, read from the environment and `.env`.

Names and defaults of the original service are kept as they were (MODEL_NAME, MODEL_VERSION,
TF_SERVING_URL, DEFAULT_FPS, MAX_FRAMES, THRESHOLD, REQUEST_TIMEOUT, REQUIRE_AUTH, JWT_SECRET);
everything else is new. Code receives a `Settings` instance; nothing else reads `os.environ`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent

# The sampling rates a request (`fps`) or DEFAULT_FPS may ask for: from one frame per 100 s.
MIN_FPS = 0.01
MAX_FPS = 120.0


class BackendKind(StrEnum):
    AUTO = "auto"  # TF Serving when TF_SERVING_URL is set, otherwise embedded
    EMBEDDED = "embedded"
    TF_SERVING = "tfserving"


class EmbeddedRuntime(StrEnum):
    """What runs the model in-process (see api/backends/embedded.py)."""

    AUTO = "auto"  # LiteRT when the version has a model.tflite and LiteRT is installed
    LITERT = "litert"  # the version's model.tflite (~90 MB resident)
    TENSORFLOW = "tensorflow"  # the SavedModel (~900 MB resident)


class WireFormat(StrEnum):
    """How crops travel to TF Serving (see api/backends/wire.py)."""

    AUTO = "auto"  # png, else uint8, else float: the most compact the served version takes
    JSON = "json"  # the original service's float lists, stdlib-encoded
    FLOAT = "float"  # the same floats, orjson-encoded
    UINT8 = "uint8"  # the crops' 0..255 values to serving_uint8
    PNG = "png"  # lossless PNG crops as {"b64": ...} strings to serving_encoded


class JobsBackend(StrEnum):
    """Where jobs (POST /jobs) live and run (see api/jobs/)."""

    MEMORY = "memory"  # in this process: no Redis, one gateway serves a job start to finish
    REDIS = "redis"  # in Redis, run by `deepfake-worker` processes; any gateway answers for it


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        env_ignore_empty=True,  # THRESHOLD= in a .env or compose file means "not set"
    )

    # --- the original service's settings -------------------------------------------------
    MODEL_NAME: str = Field("deepfake", pattern=r"^[A-Za-z0-9_.-]+$")
    MODEL_VERSION: int = Field(2, ge=1)  # v1 stays for rollback
    TF_SERVING_URL: str | None = None
    DEFAULT_FPS: float = Field(2.0, ge=MIN_FPS, le=MAX_FPS)
    MAX_FRAMES: int = Field(256, ge=1, le=10_000)
    # None: the threshold in the model card of the version that answered, else 0.5.
    THRESHOLD: float | None = Field(None, ge=0, le=1)
    REQUEST_TIMEOUT: float = Field(30.0, gt=0)
    REQUIRE_AUTH: bool = False
    JWT_SECRET: SecretStr = SecretStr("")

    # --- new ---------------------------------------------------------------------------------
    # Where `deepfake-serve` (api/server.py) listens; `make run` passes HOST and PORT through.
    HOST: str = "127.0.0.1"
    PORT: int = Field(8000, ge=0, le=65535)
    # Request line plus headers, in bytes: larger requests are refused by the HTTP parser.
    MAX_HEADER_BYTES: int = Field(16 * 1024, ge=1024, le=1024**2)
    BACKEND: BackendKind = BackendKind.AUTO
    # Serve the version a TF Serving label points to (e.g. "stable") instead of MODEL_VERSION.
    MODEL_VERSION_LABEL: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    READY_CACHE_SECONDS: float = Field(5.0, ge=0)  # how long a /health/ready verdict is reused
    LOG_LEVEL: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    MODEL_BASE_PATH: Path = PROJECT_ROOT / "models"
    MAX_UPLOAD_BYTES: int = Field(1024**3, ge=1)
    MAX_VIDEO_PIXELS: int = Field(7680 * 4320, ge=1)  # per frame; larger videos are refused
    # Predictions being processed at once (decode, detection, scoring), /predict and job
    # uploads alike; more get 503. An upload takes a slot only once its body has arrived.
    MAX_INFLIGHT_REQUESTS: int = Field(8, ge=1)
    # Uploads being received at once, apart from the processing slots above, so clients that
    # stall mid-upload cannot starve the ones being processed; more get 503.
    MAX_CONCURRENT_UPLOADS: int = Field(64, ge=1)
    # An upload that sends nothing for this many seconds is dropped (408) and its file removed.
    UPLOAD_IDLE_TIMEOUT: float = Field(30.0, gt=0)
    UPLOAD_DIR: Path | None = None  # temp files for uploads; None = the system temp dir
    WORKER_THREADS: int = Field(2, ge=1, le=64)
    EMBEDDED_RUNTIME: EmbeddedRuntime = EmbeddedRuntime.AUTO
    INFERENCE_THREADS: int = Field(1, ge=0, le=64)  # per inference call; 0 = the runtime decides
    BATCH_SIZE: int = Field(64, ge=1, le=1024)
    # Crops are sent for scoring in batches of this many while the video is still being read
    # (so scoring overlaps decoding); 0 = score everything after the last frame.
    STREAM_BATCH: int = Field(16, ge=0, le=1024)
    # How crops travel to TF Serving: auto (png, else uint8, else float, by the signatures the
    # served version has), png, uint8, float, or json (the original's float lists).
    TF_SERVING_WIRE: WireFormat = WireFormat.AUTO
    FACE_MARGIN: float = Field(0.2, ge=0, le=2)
    DETECT_MAX_SIDE: int = Field(640, ge=0)  # 0 = detect at full resolution
    MIN_FACE_PX: int = Field(30, ge=8)  # smallest face the cascade looks for, in detection pixels
    # A search of the whole frame for new faces every N sampled frames (skipped while nothing
    # outside the followed faces changed); in between, each face is followed in a small window,
    # and a face that is lost triggers a search. 1 = full search on every frame.
    REDETECT_EVERY: int = Field(4, ge=1, le=100)

    # TF Serving resilience: retries only for failures where nothing was scored (refused
    # connection, model loading, overload); a circuit breaker stops hammering a dead server.
    BACKEND_RETRIES: int = Field(2, ge=0, le=10)
    BACKEND_RETRY_BACKOFF: float = Field(0.2, ge=0)  # seconds, doubled per retry, jittered
    BREAKER_FAILURES: int = Field(5, ge=1)  # consecutive outages that open the circuit
    BREAKER_COOLDOWN: float = Field(10.0, gt=0)  # seconds before one trial request

    # Auth and browsers. API_KEYS are accepted bearer tokens besides JWT_SECRET (comma
    # separated), so keys can be rotated without downtime.
    API_KEYS: Annotated[list[SecretStr], NoDecode] = []
    CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    CORS_ALLOW_CREDENTIALS: bool = False

    # Jobs (POST /jobs): kept in this process's memory, so one gateway instance serves a job
    # from upload to result. Uploads wait in a bounded queue for one of JOB_WORKERS runners;
    # results are forgotten JOB_TTL_SECONDS after the job ends.
    JOB_QUEUE_SIZE: int = Field(16, ge=1, le=10_000)  # jobs waiting to run; more get 503
    JOB_WORKERS: int = Field(1, ge=1, le=64)  # jobs processed at once
    JOB_TTL_SECONDS: float = Field(3600.0, gt=0)

    # Jobs across replicas: with JOBS_BACKEND=redis, jobs are queued in Redis (REDIS_URL) and
    # run by `deepfake-worker` processes; their uploads wait in JOB_STORAGE_DIR, which every
    # gateway and worker must see (a shared volume). A worker that stops heartbeating for
    # JOB_VISIBILITY_TIMEOUT seconds loses its job to another, at most JOB_MAX_ATTEMPTS times.
    JOBS_BACKEND: JobsBackend = JobsBackend.MEMORY
    REDIS_URL: str | None = None
    JOB_STORAGE_DIR: Path | None = None  # None: UPLOAD_DIR (memory backend only)
    JOB_MAX_ATTEMPTS: int = Field(3, ge=1, le=20)
    JOB_VISIBILITY_TIMEOUT: int = Field(30, ge=1)
    # Where a `deepfake-worker` serves its Prometheus metrics (/metrics); 0 = any free port.
    WORKER_METRICS_PORT: int = Field(9100, ge=0, le=65535)

    # Callbacks (POST /jobs?callback_url=...): the job's JSON POSTed when it ends, signed with
    # CALLBACK_SECRET, retried with backoff. Loopback, link-local and private addresses are
    # refused unless their host is in CALLBACK_ALLOW_HOSTS (comma separated).
    CALLBACK_SECRET: SecretStr = SecretStr("")
    CALLBACK_ALLOW_HOSTS: Annotated[list[str], NoDecode] = []
    CALLBACK_MAX_ATTEMPTS: int = Field(5, ge=1, le=20)
    CALLBACK_TIMEOUT: float = Field(10.0, gt=0)
    CALLBACK_RETRY_BACKOFF: float = Field(1.0, ge=0)  # seconds, doubled per attempt

    # Provenance (api/provenance/): C2PA Content Credentials are trusted only when their signer
    # chains to a CA in this PEM bundle; none by default, so every signer is untrusted.
    C2PA_TRUST_ANCHORS: Path | None = None
    # Seconds one upload's C2PA read and validation may take before it is given up (reported
    # as error c2pa_timeout; detection still answers).
    PROVENANCE_TIMEOUT: float = Field(5.0, gt=0, le=300)

    @field_validator("API_KEYS", "CORS_ORIGINS", "CALLBACK_ALLOW_HOSTS", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("C2PA_TRUST_ANCHORS")
    @classmethod
    def _trust_anchors_bundle(cls, value: Path | None) -> Path | None:
        # Refused at start, with the file named, rather than at the first signed upload
        # (api/provenance/trust.py re-reads it when it changes).
        if value is None:
            return value
        from cryptography import x509

        try:
            x509.load_pem_x509_certificates(value.read_bytes())
        except OSError as exc:
            raise ValueError(f"C2PA_TRUST_ANCHORS={value} cannot be read: {exc}") from exc
        except ValueError as exc:
            raise ValueError(
                f"C2PA_TRUST_ANCHORS={value} is not a PEM bundle of X.509 CA certificates"
            ) from exc
        return value

    @model_validator(mode="after")
    def _check_backend(self) -> Settings:
        if self.BACKEND is BackendKind.TF_SERVING and not self.TF_SERVING_URL:
            raise ValueError(
                "BACKEND=tfserving needs TF_SERVING_URL (for example http://tf-serving:8501)"
            )
        if self.MODEL_VERSION_LABEL and self.backend_kind is not BackendKind.TF_SERVING:
            raise ValueError(
                "MODEL_VERSION_LABEL needs TF Serving (set TF_SERVING_URL); "
                "the embedded backend serves MODEL_VERSION"
            )
        if self.REQUIRE_AUTH and not self.bearer_tokens:
            raise ValueError(
                "REQUIRE_AUTH=true needs JWT_SECRET or API_KEYS: the bearer token(s) clients send"
            )
        if self.JOBS_BACKEND is JobsBackend.REDIS and not (self.REDIS_URL and self.JOB_STORAGE_DIR):
            raise ValueError(
                "JOBS_BACKEND=redis needs REDIS_URL (e.g. redis://redis:6379/0) and "
                "JOB_STORAGE_DIR (a directory every gateway and worker shares)"
            )
        if self.CORS_ALLOW_CREDENTIALS and "*" in self.CORS_ORIGINS:
            raise ValueError(
                "CORS_ORIGINS='*' cannot be combined with CORS_ALLOW_CREDENTIALS=true: "
                "list the origins that may send credentials"
            )
        return self

    @property
    def bearer_tokens(self) -> list[bytes]:
        """Every token /predict accepts when REQUIRE_AUTH is on."""
        tokens = [self.JWT_SECRET, *self.API_KEYS]
        return [t.get_secret_value().encode() for t in tokens if t.get_secret_value()]

    @property
    def backend_kind(self) -> BackendKind:
        """The backend actually used, with AUTO resolved."""
        if self.BACKEND is BackendKind.AUTO:
            return BackendKind.TF_SERVING if self.TF_SERVING_URL else BackendKind.EMBEDDED
        return self.BACKEND

    @property
    def model_dir(self) -> Path:
        return self.MODEL_BASE_PATH / self.MODEL_NAME / str(self.MODEL_VERSION)
