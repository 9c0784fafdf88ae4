"""Phases: each is what one Cloud Run Job runs, start to finish, from settings and services."""
