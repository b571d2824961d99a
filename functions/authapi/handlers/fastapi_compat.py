"""Keeps FastAPI from importing `pydantic.v1` at every cold start, where nothing uses it.

FastAPI asks of each type it meets (a route's body and response models, as routes are declared;
an object it encodes) whether it is a pydantic v1 model, and to ask, it imports `pydantic.v1`:
23 modules, about 15 ms of a cold start on python3.13, for an app whose models are all v2. No
class or object can be a v1 model unless `pydantic.v1` was imported already, so until then the
answer is no without the import; once anything imports `pydantic.v1`, FastAPI's own check answers.

Imported by the API function's entry point (authapi.handlers.api) before any router module, at
import, since routes are declared as their modules are imported. If FastAPI no longer has these
functions, nothing is replaced (tests/aws_lambda/handlers/test_fastapi_compat.py says so).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

PYDANTIC_V1 = "pydantic.v1"


def _unless_v1_unimported(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    def answer(value: Any) -> bool:
        return PYDANTIC_V1 in sys.modules and check(value)

    answer.__wrapped__ = check  # type: ignore[attr-defined]
    return answer


def defer_pydantic_v1_import() -> bool:
    """Answer FastAPI's v1 checks without importing pydantic.v1; False if there is nothing
    to replace (FastAPI changed) or it is imported already."""
    from fastapi import encoders
    from fastapi._compat import shared

    if PYDANTIC_V1 in sys.modules:
        return False
    replaced = False
    # shared's own callers look the class check up in shared; encoders bound the instance
    # check to its own name at import
    for module, name in (
        (shared, "is_pydantic_v1_model_class"),
        (shared, "is_pydantic_v1_model_instance"),
        (encoders, "is_pydantic_v1_model_instance"),
    ):
        check = getattr(module, name, None)
        if callable(check) and not hasattr(check, "__wrapped__"):
            setattr(module, name, _unless_v1_unimported(check))
            replaced = True
    return replaced


defer_pydantic_v1_import()
