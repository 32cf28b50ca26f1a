"""The institutions of the AI-chip credit economy, one module each: their state and decision rules."""
