"""authapi-client: call authapi from Python, sync or async, with typed errors and managed tokens."""

__version__ = "0.1.0"
