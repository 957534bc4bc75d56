"""Client API keys: SHA-256 hashes in a mounted Secret, with each key's policy.

The gateway never holds a client key longer than one request and never writes one anywhere:
it hashes the presented bearer token and compares the digest with every configured digest in
constant time. The file is re-read when Kubernetes swaps the Secret (key rotation without a
restart). Format, and how to hash a key: docs/gateway.md "Auth and limits".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger("serving.gateway.auth")

LABEL_SAFE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class ClientEntry(BaseModel):
    """One client key and its policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=LABEL_SAFE, description="Key name: a metric label and log field (never the key).")
    team: str = Field(pattern=LABEL_SAFE, description="Team billed for this key's traffic.")
    key_sha256: str = Field(description="Lower-case hex SHA-256 of the key (`python -m serving.gateway.hash_key`).")
    sovereign: bool = Field(
        False,
        description="Never send this key's requests to a managed API, whatever fails. Nothing a client sends can turn it off.",
    )
    rpm: int | None = Field(
        None,
        ge=1,
        description="Requests per minute; shared by all pods through the shared store, per pod without one. null: unlimited.",
    )
    tpm: int | None = Field(
        None, ge=1, description="Tokens (prompt + completion) per minute, shared like `rpm`; null: unlimited."
    )
    models: list[str] | None = Field(
        None,
        description="Public model names this key may use (403 `model_not_allowed` for others; /v1/models lists "
        "only these). null: every model of the gateway.",
    )
    monthly_usd_cap: float | None = Field(
        None,
        gt=0,
        description="Most this key may spend per calendar month (UTC), in USD as the gateway prices requests; at "
        "the cap requests get 429 `spend_cap_reached`. null: no cap.",
    )

    @field_validator("key_sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise ValueError("must be 64 lower-case hex digits (a SHA-256 digest, not the key itself)")
        return value


class TeamPolicy(BaseModel):
    """What a whole team may spend, over all its keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    monthly_usd_cap: float | None = Field(
        None, gt=0, description="Most the team's keys together may spend per calendar month (UTC), USD; null: no cap."
    )


class ClientsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: list[ClientEntry] = Field(description="Every accepted key.")
    teams: dict[str, TeamPolicy] = Field(
        default_factory=dict,
        description="Per-team policy by team name (the `team` of its keys). Kept here, next to the keys, so that "
        "finance changes it as keys are changed: without a restart.",
    )

    @field_validator("teams")
    @classmethod
    def _team_names(cls, value: dict[str, TeamPolicy]) -> dict[str, TeamPolicy]:
        bad = sorted(name for name in value if not re.match(LABEL_SAFE, name))
        if bad:
            raise ValueError(f"{len(bad)} team name(s) are not label-safe (letters, digits, '.', '_', '-')")
        return value

    @field_validator("clients")
    @classmethod
    def _unique(cls, value: list[ClientEntry]) -> list[ClientEntry]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError("client names must be unique")
        if len({c.key_sha256 for c in value}) != len(value):
            raise ValueError("two clients share one key hash")
        return value


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    team: str
    sovereign: bool
    rpm: int | None
    tpm: int | None
    digest: bytes
    models: frozenset[str] | None = None
    monthly_usd_cap: float | None = None
    team_monthly_usd_cap: float | None = None

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models

    @property
    def capped(self) -> bool:
        return self.monthly_usd_cap is not None or self.team_monthly_usd_cap is not None


class ClientsFileError(ValueError):
    """The clients file is unusable; the message names key paths, never the values."""


def _describe(error: Exception) -> str:
    # Pydantic's default message quotes the offending input, which could be a raw key pasted
    # where its hash belongs: report locations and reasons only.
    if isinstance(error, ValidationError):
        return "; ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in error.errors(include_input=False))
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON (line {error.lineno}, column {error.colno})"
    return type(error).__name__


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _file_id(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)  # follows the Secret's ..data symlink, so a swap changes the inode
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


class ClientRegistry:
    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._file_id: tuple[int, int, int] | None = None
        self._clients: tuple[Client, ...] = ()
        self.reload()

    @property
    def clients(self) -> tuple[Client, ...]:
        return self._clients

    def reload(self) -> bool:
        """Re-read the file if it changed. A broken file keeps the previous keys (and says so)."""
        file_id = _file_id(self._path)
        if file_id == self._file_id:
            return False
        try:
            parsed = ClientsFile.model_validate(json.loads(self._path.read_text()))
        except (ValueError, OSError) as error:
            problem = ClientsFileError(f"{self._path}: {_describe(error)}")
            if not self._clients:
                raise problem from None
            log.error("%s; keeping the previous keys", problem)
            self._file_id = file_id
            return False
        teams = parsed.teams
        self._clients = tuple(
            Client(
                c.name,
                c.team,
                c.sovereign,
                c.rpm,
                c.tpm,
                bytes.fromhex(c.key_sha256),
                frozenset(c.models) if c.models is not None else None,
                c.monthly_usd_cap,
                teams[c.team].monthly_usd_cap if c.team in teams else None,
            )
            for c in parsed.clients
        )
        self._file_id = file_id
        log.info("loaded %d client keys from %s", len(self._clients), self._path)
        return True

    def authenticate(self, authorization: bytes | None) -> Client | None:
        """The client whose key is in `Authorization: Bearer <key>`, or None."""
        if not authorization or authorization[:7].lower() != b"bearer ":
            return None
        digest = hashlib.sha256(authorization[7:].strip()).digest()
        found = None
        # Every digest is compared, whether or not one matched earlier: the time taken does
        # not depend on which client, if any, holds the key.
        for client in self._clients:
            if hmac.compare_digest(digest, client.digest):
                found = client
        return found


class HeaderValueError(ValueError):
    """A request header the gateway acts on is ambiguous; the message names it and the allowed values."""


def sovereign_requested(name: bytes, values: list[bytes]) -> bool:
    """The client's own sovereignty request: header `name`, given once, `true` or `false`.

    Parsed per RFC 9110: optional whitespace (SP, HTAB) around the value is not part of it
    (section 5.5), and two field lines of one name mean a comma-joined list (section 5.3), which
    is refused like any value other than one clear token. A sovereignty request that a typo
    turned into "not sovereign" would send the prompt to a third party: anything unclear is
    refused (400), never read as false. The value is never echoed.
    """
    if not values:
        return False
    header = name.decode()
    if len(values) > 1:
        raise HeaderValueError(f"The {header} header appears {len(values)} times; send it once, `true` or `false`.")
    value = values[0].strip(b" \t").lower()
    if value == b"true":
        return True
    if value == b"false":
        return False
    raise HeaderValueError(f"The {header} header must be `true` or `false` (case-insensitive).")
