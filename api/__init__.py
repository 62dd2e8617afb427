"""Deepfake-detection gateway: FastAPI in front of TensorFlow Serving or an in-process model."""

__version__ = "0.1.0"
