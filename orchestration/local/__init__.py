"""The embedded default: factory.yaml run on this machine against local stand-ins."""
