"""Notification runs: call trees, call attempts, emails and acknowledgments."""
