"""Phone backends: one small interface, a Twilio implementation and a simulated one."""
