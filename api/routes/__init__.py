"""HTTP routes, one router per concern; handlers stay thin: dependencies come from `api.deps`,
schemas from `api.schemas`, the work from `api.service` and `api.jobs`."""
