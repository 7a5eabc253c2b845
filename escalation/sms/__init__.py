"""Text messages (SMS): one small backend interface (Twilio's Messages API, simulated), sending, and replies."""
