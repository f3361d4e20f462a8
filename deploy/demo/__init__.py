"""The demo week of events (``make run``) and its generator."""
