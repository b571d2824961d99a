"""Lambda tier: the real handlers with real event payloads, moto for SSM."""
