"""A tiny notes service: an in-memory store and a JSON API over http.server."""

__version__ = "0.1.0"
