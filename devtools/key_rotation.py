"""Rotating the signing key (and the data keys with it) in SSM, in three phases with safe waits.

    publish   a new key is generated and published (JWKS, every instance's verification keys),
              not yet signing; a new data key is appended to the ring, known but not current
    promote   the new key signs, the old one's public half joins the retired keys; the new data
              key moves to the front (current)
    retire    the public keys retired at promote are dropped (old data keys stay: they still
              read what they protected)

Each phase refuses to run before the time the previous one recorded in `<prefix>jwt/rotation`,
and running a phase again is harmless: a phase already done answers what comes next, and one
interrupted half-way is finished by running it again. The pending private key waits in
`<prefix>jwt/next-signing-key`, which the app never reads; the app reads its public half from
`<prefix>jwt/next-public-key`. `rotate_signing_key.py` is the command line; after each phase it
copies the parameters to the DR region (`devtools/key_replication.py`).

A tenant's key (`tenant=`: `<prefix>tenants/<id>/`, authapi.signing.ssm) rotates the same way,
its state and pending key beside it; the data keys are the deployment's and rotate only with the
deployment's key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from authapi.clock import Clock
from authapi.key_material import (
    generate_data_key_entry,
    generate_private_key_pem,
    load_private_key,
    load_public_keys,
    parse_data_keys,
    public_key_pem,
)
from authapi.signing.keys import key_id
from authapi.signing.ssm import (
    DATA_KEYS_PARAMETER,
    NEXT_PUBLIC_KEY_PARAMETER,
    NO_KEYS,
    RETIRED_KEYS_PARAMETER,
    SIGNING_KEY_PARAMETER,
    tenant_parameter_prefix,
)
from authapi.tenant_scope import DEFAULT_TENANT
from devtools.key_replication import (
    KMS_KEY_PARAMETER,
    NEXT_SIGNING_KEY_PARAMETER,
    STATE_PARAMETER,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from mypy_boto3_ssm import SSMClient

PRODUCTION_KEY_BITS = 3072  # as infra/bootstrap-signing-key.sh makes the first one

Phase = Literal["published", "promoted", "retired"]


class RotationRefused(Exception):
    """A phase that must not run now: too early, out of order, or SSM not as this tool left it."""


@dataclass(frozen=True)
class Waits:
    publish_to_promote: timedelta
    promote_to_retire: timedelta


@dataclass(frozen=True)
class RotationState:
    phase: Phase
    kid: str  # the new key's
    data_key_id: str
    not_before: datetime | None = None  # the earliest time of the next phase
    retiring: tuple[str, ...] = field(default=())  # kids that retire drops

    def to_json(self) -> str:
        return json.dumps(
            {
                "phase": self.phase,
                "kid": self.kid,
                "data_key_id": self.data_key_id,
                "not_before": self.not_before.isoformat() if self.not_before else None,
                "retiring": list(self.retiring),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RotationState:
        value = json.loads(text)
        not_before = value.get("not_before")
        return cls(
            phase=value["phase"],
            kid=value["kid"],
            data_key_id=value["data_key_id"],
            not_before=datetime.fromisoformat(not_before) if not_before else None,
            retiring=tuple(value.get("retiring", ())),
        )


def data_key_id_for(kid: str) -> str:
    """The data key published with signing key `kid`: derived from it, so a publish run again
    after an interruption finds the data key it appended instead of appending another."""
    return hashlib.sha256(kid.encode()).hexdigest()[:8]


def _bundle(keys: list[RSAPublicKey]) -> str:
    return "".join(public_key_pem(key) for key in keys) if keys else NO_KEYS


def _keys(bundle: str | None) -> list[RSAPublicKey]:
    return [] if bundle is None or bundle.strip() == NO_KEYS else list(load_public_keys(bundle))


class Rotation:
    """The three phases against one environment's parameters under `prefix`."""

    def __init__(
        self,
        ssm: SSMClient,
        *,
        prefix: str,
        waits: Waits,
        clock: Clock,
        key_bits: int = PRODUCTION_KEY_BITS,
        tenant: str = DEFAULT_TENANT,
    ) -> None:
        self._ssm = ssm
        self._kms_prefix = prefix  # the data stack's KMS key is the environment's
        self._prefix = tenant_parameter_prefix(prefix, tenant)
        self._rotates_data_keys = tenant == DEFAULT_TENANT
        self._waits = waits
        self._clock = clock
        self._key_bits = key_bits

    # SSM, one parameter at a time: the tool runs rarely and by hand, clarity beats round trips
    def _get(self, name: str) -> str | None:
        prefix = self._kms_prefix if name == KMS_KEY_PARAMETER else self._prefix
        try:
            response = self._ssm.get_parameter(Name=prefix + name, WithDecryption=True)
        except self._ssm.exceptions.ParameterNotFound:
            return None
        return response["Parameter"]["Value"]

    def _put(self, name: str, value: str, *, secret: bool = False) -> None:
        if secret:
            kms_key = self._get(KMS_KEY_PARAMETER)
            if kms_key is None:
                raise RotationRefused(
                    f"no {self._kms_prefix}{KMS_KEY_PARAMETER}: deploy the data stack"
                )
            self._ssm.put_parameter(
                Name=self._prefix + name,
                Value=value,
                Type="SecureString",
                KeyId=kms_key,
                Overwrite=True,
            )
        else:
            # Intelligent-Tiering: a bundle past 4 KB (~6 keys) moves to the advanced tier itself
            self._ssm.put_parameter(
                Name=self._prefix + name,
                Value=value,
                Type="String",
                Tier="Intelligent-Tiering",
                Overwrite=True,
            )

    def _state(self) -> RotationState | None:
        text = self._get(STATE_PARAMETER)
        return RotationState.from_json(text) if text else None

    def _require_time(self, state: RotationState, phase: str) -> None:
        now = self._clock.now()
        if state.not_before is not None and now < state.not_before:
            left = state.not_before - now
            raise RotationRefused(
                f"too early to {phase}: not before {state.not_before.isoformat()} "
                f"(in {timedelta(seconds=int(left.total_seconds()) + 1)})"
            )

    def _signing_kid(self) -> str:
        pem = self._get(SIGNING_KEY_PARAMETER)
        if pem is None:
            raise RotationRefused(
                f"no {self._prefix}{SIGNING_KEY_PARAMETER}: run infra/bootstrap-signing-key.sh"
            )
        return key_id(load_private_key(pem).public_key())

    def publish(self) -> str:
        state = self._state()
        if state is not None and state.phase == "published":
            return f"key {state.kid} is already published; promote not before {state.not_before}"
        if state is not None and state.phase == "promoted":
            self._require_time(state, "publish")  # the previous rotation's retire comes first
            raise RotationRefused(f"key {state.kid} was promoted: retire its predecessor first")
        self._signing_kid()  # a first key exists
        # a publish interrupted earlier left its key here, never used: publish that one
        pending = self._get(NEXT_SIGNING_KEY_PARAMETER)
        if pending is None:
            pending = generate_private_key_pem(self._key_bits)
            self._put(NEXT_SIGNING_KEY_PARAMETER, pending, secret=True)
        public = load_private_key(pending).public_key()
        kid = key_id(public)
        data_key_id = data_key_id_for(kid)
        if self._rotates_data_keys:
            self._publish_data_key(data_key_id)
        self._put(NEXT_PUBLIC_KEY_PARAMETER, public_key_pem(public))
        not_before = self._clock.now() + self._waits.publish_to_promote
        self._put(
            STATE_PARAMETER, RotationState("published", kid, data_key_id, not_before).to_json()
        )
        return f"published key {kid} (not signing yet); promote not before {not_before}"

    def _publish_data_key(self, data_key_id: str) -> None:
        data_keys = self._get(DATA_KEYS_PARAMETER)
        if data_keys is None:
            raise RotationRefused(f"no {self._prefix}{DATA_KEYS_PARAMETER}: run the bootstrap")
        if data_key_id not in {entry_id for entry_id, _ in parse_data_keys(data_keys)}:
            entry = generate_data_key_entry(data_key_id)
            self._put(DATA_KEYS_PARAMETER, f"{data_keys},{entry}", secret=True)

    def promote(self) -> str:
        state = self._state()
        if state is None:
            raise RotationRefused("nothing is published: run PHASE=publish first")
        if state.phase != "published":
            return f"key {state.kid} is already signing ({state.phase})"
        self._require_time(state, "promote")
        if self._signing_kid() != state.kid:
            pending = self._get(NEXT_SIGNING_KEY_PARAMETER)
            if pending is None or key_id(load_private_key(pending).public_key()) != state.kid:
                raise RotationRefused(f"the pending key is not the published {state.kid}")
            current = self._get(SIGNING_KEY_PARAMETER)
            assert current is not None  # _signing_kid() checked it
            retired = _keys(self._get(RETIRED_KEYS_PARAMETER))
            old = load_private_key(current).public_key()
            if key_id(old) not in {key_id(key) for key in retired}:
                # first, so that no instance ever reads a new signing key without the old one
                self._put(RETIRED_KEYS_PARAMETER, _bundle([*retired, old]))
            self._put(SIGNING_KEY_PARAMETER, pending, secret=True)
        if self._rotates_data_keys:
            self._promote_data_key(state.data_key_id)
        self._put(NEXT_PUBLIC_KEY_PARAMETER, NO_KEYS)
        # already gone when this run finishes an interrupted one
        with contextlib.suppress(self._ssm.exceptions.ParameterNotFound):
            self._ssm.delete_parameter(Name=self._prefix + NEXT_SIGNING_KEY_PARAMETER)
        # every key retired so far was retired at or before this moment: retire drops them all
        retiring = tuple(key_id(key) for key in _keys(self._get(RETIRED_KEYS_PARAMETER)))
        not_before = self._clock.now() + self._waits.promote_to_retire
        promoted = replace(state, phase="promoted", not_before=not_before, retiring=retiring)
        self._put(STATE_PARAMETER, promoted.to_json())
        return f"key {state.kid} signs now; retire not before {not_before}"

    def _promote_data_key(self, data_key_id: str) -> None:
        text = self._get(DATA_KEYS_PARAMETER)
        assert text is not None  # publish checked it, and nothing deletes it
        entries = [entry.strip() for entry in text.split(",")]
        published = [entry for entry in entries if entry.partition(":")[0] == data_key_id]
        if not published:
            raise RotationRefused(f"data key {data_key_id}, published with the key, is missing")
        if entries[0] != published[0]:
            others = [entry for entry in entries if entry != published[0]]
            self._put(DATA_KEYS_PARAMETER, ",".join([published[0], *others]), secret=True)

    def retire(self) -> str:
        state = self._state()
        if state is None or state.phase == "published":
            raise RotationRefused("no key was promoted: run PHASE=promote first")
        if state.phase == "retired":
            return f"the keys before {state.kid} are already retired"
        self._require_time(state, "retire")
        retired = _keys(self._get(RETIRED_KEYS_PARAMETER))
        kept = [key for key in retired if key_id(key) not in state.retiring]
        if len(kept) != len(retired):
            self._put(RETIRED_KEYS_PARAMETER, _bundle(kept))
        done = replace(state, phase="retired", not_before=None, retiring=())
        self._put(STATE_PARAMETER, done.to_json())
        return f"dropped {len(retired) - len(kept)} retired key(s); {state.kid} is the only signer"
