"""The root of OrderHub's errors: each package's own base (``StreamsError``, ``DeployError``,
``ConnectorError`` …) derives from ``OrderHubError``, which the command line prints as one line."""


class OrderHubError(Exception):
    """Base of every package's errors; the CLI prints the message and exits 1."""
