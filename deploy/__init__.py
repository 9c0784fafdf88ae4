"""``factory deploy``: plan and apply Factory's GCP resources from one config file.

config (the file) → names (every resource id) → specs (the REST JSON we want) → resources (read, create,
update each, through the google-cloud client libraries on REST) → planner (diff) → applier (writes).
"""
