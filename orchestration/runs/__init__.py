"""``factory runs``: the runs under an artifact prefix, listed, shown one at a time, and their reports
opened. It reads what the phases wrote (``runs/<run_id>/``) through the same store the jobs use, so it
works on a local directory and on ``gs://`` alike, and it never changes a run's records.
"""
