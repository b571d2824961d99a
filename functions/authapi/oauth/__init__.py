"""OAuth 2.0 (RFC 6749 token endpoint, RFC 7009, RFC 7662, RFC 8414) over the auth flows."""
