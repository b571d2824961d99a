"""Per-account throttle keys of the current tenant (issue 17: throttle keys include the tenant).

The same address in two tenants is two accounts, and an attack on one must not slow the other
down: a key's subject (the email a login-throttle or mail-throttle key is an HMAC of) names the
tenant. The default tenant's subjects are the address alone, so its keys are the ones written
before tenants existed and no live lock or count is lost on the upgrade. Per-IP buckets
(abuse/rate_limit.py) stay global: one client is one client, whichever tenant it calls.
"""

from __future__ import annotations

from authapi.tenant_scope import DEFAULT_TENANT, current_tenant


def tenant_subject(value: str) -> str:
    """`value` in the current tenant: NUL separates, which no email address can hold."""
    tenant_id = current_tenant.get()
    return value if tenant_id == DEFAULT_TENANT else f"{tenant_id}\0{value}"
