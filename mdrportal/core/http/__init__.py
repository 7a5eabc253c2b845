"""Outbound HTTP within one total deadline, to addresses checked first: the transport the connectors and the
Twilio client share (transport), and which hosts the portal may call (addresses)."""
