"""The detection pipeline: plain functions over files and numpy arrays, no HTTP in sight.

decode (sample frames) -> faces (detect, crop) -> batching (model input) -> aggregate (verdict).
"""
