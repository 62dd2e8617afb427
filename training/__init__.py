"""Training, export, evaluation and release of the detector (`models/` holds what they write).

May import `api.contract` and `api.pipeline` (crops are cut by the gateway's own code, so training
sees what serving sees) and `api.backends.runtimes` (the `.tflite` is checked with the runtime that
serves it). The gateway never imports this package (an import-linter contract in pyproject.toml).
"""
