"""Fakes of the outside world at the network: local HTTP servers that play a platform's part."""
