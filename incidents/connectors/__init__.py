"""Connectors to endpoint security platforms: one small interface, one module per platform."""
