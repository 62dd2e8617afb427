"""Jobs: a video scored in the background, with progress, so that a long input does not hold an
HTTP request open for minutes.

Two backends behind one interface (`JobBackend`), chosen by JOBS_BACKEND:
- `memory` (api/jobs/memory.py): jobs are tasks of this gateway process; no Redis needed.
- `redis` (api/jobs/redis.py on the gateway, api/jobs/worker.py in `deepfake-worker`): records
  in Redis, queued with SAQ, run by worker processes; any gateway answers for any job.
"""

from api.jobs.backend import JobBackend
from api.jobs.record import FINISHED, JobRecord, JobStatus

__all__ = ["FINISHED", "JobBackend", "JobRecord", "JobStatus"]
