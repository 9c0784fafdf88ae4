"""The e2e-verify phase: seeded database, dev servers, a browser agent, screenshots and a report."""
