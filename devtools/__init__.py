"""Tools for running authapi on a developer's machine and in tests. Never shipped to Lambda."""
