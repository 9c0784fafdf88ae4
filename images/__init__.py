"""The job images: the Containerfile, its scripts, and the builder (``python -m images.build``)."""
