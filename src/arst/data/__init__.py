"""Images, cached training data, embedded samples and verified downloads."""
