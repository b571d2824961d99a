"""Tenants (realms): the directory of them, and each one's own settings (authapi.tenant_scope
says which tenant a statement acts for)."""
