"""vmstack embedded service: lab device scheduler + inventory API."""

__version__ = "0.1.0"
