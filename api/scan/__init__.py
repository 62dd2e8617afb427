"""deepfake-scan: check video files and whole folders from the command line.

Runs the gateway's own pipeline in this process (the same Settings, backend and
DetectionService the server builds), or sends the files to a running gateway as jobs (--url).
"""
