"""The device registry: which devices exist, their site, sensor profile and identity.

One JSON file per deployment (``registry.json`` in the state directory, default
``$FIELDLINK_STATE_DIR`` or ``~/.local/state/fieldlink``), readable by people and diffable.
It holds password *hashes* only; clear-text secrets are returned once by :meth:`Registry.add`
and :meth:`Registry.rotate` (and written into a device image by ``fieldlink firmware build``).

Every change also rewrites the broker files in ``STATE/mosquitto/``: ``passwd`` (active
devices only, so a revoked device is refused once Mosquitto reloads) and ``acl``. Their
formats, the password hashes and the CA (``STATE/ca/ca.pem``, ``ca.key``) are the broker
tier's (:mod:`broker.mosquitto`); this module only decides who is in them.

>>> registry = Registry(Path(getfixture("tmp_path")))
>>> issued = registry.add("pi-07", site="farm")
>>> registry.get("pi-07").site, registry.verify("pi-07", issued.password)
('farm', True)
>>> "topic write fieldlink/farm/pi-07/telemetry" in registry.acl_lines()
True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.errors import CredentialError
from broker.mosquitto import (
    CertificateAuthority,
    Credential,
    DeviceGrant,
    IssuedCert,
    generate_password,
    hash_password,
    password_hash,
    password_line,
    render_acl,
    verify_password,
    write_acl_file,
    write_password_lines,
    write_private_file,
)
from fieldlink.messages import Channel, DeviceId, Name, mqtt_topic

from .errors import DeviceExistsError, DeviceNotFoundError, RegistryError
from .profiles import DEFAULT_PROFILE, get_profile

__all__ = ["Device", "DeviceState", "Issued", "Registry", "default_state_dir"]

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    """``$FIELDLINK_STATE_DIR`` or ``~/.local/state/fieldlink`` (read when called)."""
    env = os.environ.get("FIELDLINK_STATE_DIR")
    return Path(env) if env else Path.home() / ".local" / "state" / "fieldlink"


class DeviceState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Device(BaseModel):
    """One registered device, as stored in ``registry.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: DeviceId = Field(description="Device id: MQTT username, client id and topic level.")
    site: Name = Field(description="Site the device publishes under.")
    profile: str = Field(default=DEFAULT_PROFILE, description="Sensor profile name.")
    state: DeviceState = Field(default=DeviceState.ACTIVE, description="active or revoked.")
    created_at: dt.datetime = Field(description="When it was added (UTC).")
    password_hash: str = Field(description="Mosquitto $7$ hash of its MQTT password.")
    credentials_issued_at: dt.datetime = Field(description="When the password was last issued.")
    revoked_at: dt.datetime | None = Field(default=None, description="When it was revoked.")
    cert: bool = Field(default=False, description="Whether it also gets an X.509 client cert.")
    cert_serial: str | None = Field(default=None, description="Serial of its current cert (hex).")
    cert_not_after: dt.datetime | None = Field(default=None, description="Its cert's expiry.")

    @property
    def active(self) -> bool:
        return self.state is DeviceState.ACTIVE

    def topics(self) -> dict[Channel, str]:
        return {channel: mqtt_topic(self.site, self.id, channel) for channel in Channel}


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    devices: dict[str, Device] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Issued:
    """Fresh credentials for a device: show or embed them once, they are not stored."""

    device: Device
    password: str
    certificate: IssuedCert | None
    ca_pem: bytes | None

    def __repr__(self) -> str:  # never print a password by accident
        return f"Issued(device={self.device.id!r}, password='***')"


class Registry:
    """Devices of one deployment, kept in ``state_dir``.

    ``clock`` returns the current UTC time (tests pass a fixed one).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        clock: Any = None,
    ):
        self.state_dir = (state_dir or default_state_dir()).expanduser()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    @functools.cached_property
    def ca(self) -> CertificateAuthority:
        """The deployment's CA in ``STATE/ca``, created on first use (a registry without
        certificate devices never makes one)."""
        return CertificateAuthority.load_or_create(self.state_dir / "ca")

    @property
    def path(self) -> Path:
        return self.state_dir / "registry.json"

    @property
    def password_file(self) -> Path:
        return self.state_dir / "mosquitto" / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.state_dir / "mosquitto" / "acl"

    # -- reading ------------------------------------------------------------------------

    def _load(self) -> _File:
        if not self.path.exists():
            return _File()
        try:
            return _File.model_validate_json(self.path.read_bytes())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RegistryError(
                f"{self.path} is not a valid registry: {where}: {first['msg']}"
            ) from None
        except OSError as exc:
            raise RegistryError(f"cannot read {self.path}: {exc}") from exc

    def devices(self, *, include_revoked: bool = True) -> list[Device]:
        devices = sorted(self._load().devices.values(), key=lambda d: (d.site, d.id))
        return [d for d in devices if include_revoked or d.active]

    def get(self, device: str) -> Device:
        found = self._load().devices.get(device)
        if found is None:
            raise DeviceNotFoundError(device, self.path)
        return found

    def verify(self, device: str, password: str) -> bool:
        """Whether ``password`` is the current password of an active ``device``."""
        found = self.get(device)
        return found.active and verify_password(found.password_hash, password)

    def acl_lines(self, *, bridge_users: Iterable[str] = ()) -> list[str]:
        """Mosquitto ACL of ``bridge_users`` and every active device, each pinned to its site."""
        return _acl_text(self.devices(include_revoked=False), bridge_users).splitlines()

    def password_lines(self, *, extra: Iterable[Credential] = ()) -> list[str]:
        """``username:$7$...`` lines for ``extra`` (e.g. the bridge) and every active device."""
        return _password_lines(self.devices(include_revoked=False), extra)

    def write_password_file(self, path: Path, *, extra: Iterable[Credential] = ()) -> Path:
        """Mosquitto password file of ``extra`` credentials (the bridge) and the active
        devices (mode 0600, replaced atomically)."""
        active = self.devices(include_revoked=False)
        with _as_registry_error():
            return write_password_lines(path, _password_lines(active, extra))

    def write_acl_file(self, path: Path, *, bridge_users: Iterable[str] = ()) -> Path:
        """Mosquitto ACL file of ``bridge_users`` and the active devices (mode 0600, replaced
        atomically)."""
        active = self.devices(include_revoked=False)
        with _as_registry_error():
            return write_acl_file(path, bridge_users=bridge_users, devices=_grants(active))

    def export(self) -> str:
        """A human-readable summary of every device (no secrets, no hashes)."""
        rows = [
            {
                "id": d.id,
                "site": d.site,
                "profile": d.profile,
                "state": d.state.value,
                "created_at": d.created_at.isoformat(),
                "credentials_issued_at": d.credentials_issued_at.isoformat(),
                "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
                "cert_serial": d.cert_serial,
            }
            for d in self.devices()
        ]
        return json.dumps({"devices": rows}, indent=2) + "\n"

    # -- changing -----------------------------------------------------------------------

    def add(
        self, device: str, *, site: str, profile: str = DEFAULT_PROFILE, cert: bool = False
    ) -> Issued:
        """Register ``device`` and issue its first credentials."""
        get_profile(profile)
        with self._editing() as data:
            if device in data.devices:
                raise DeviceExistsError("already registered", device=device)
            now = self._clock()
            try:
                record = Device(
                    id=device,
                    site=site,
                    profile=profile,
                    created_at=now,
                    password_hash="",  # set by _issue below
                    credentials_issued_at=now,
                    cert=cert,
                )
            except ValidationError as exc:
                first = exc.errors()[0]
                raise RegistryError(f"{first['loc'][0]}: {first['msg']}", device=device) from None
            issued = self._issue(record)
            data.devices[device] = issued.device
        log.info("registered device %s at site %s (profile %s)", device, site, profile)
        return issued

    def rotate(self, device: str) -> Issued:
        """New password (and certificate) for ``device``; the old ones stop working once
        the broker reloads its password file."""
        return self.commit(self.prepare_rotation(device))

    def prepare_rotation(self, device: str) -> Issued:
        """Fresh credentials for ``device`` that are *not yet* recorded: the image builder
        writes them into an image first and calls :meth:`commit` only once that worked, so
        a failed build leaves the device's current credentials valid."""
        record = self.get(device)
        if not record.active:
            raise RegistryError("is revoked; add it again under a new id", device=device)
        return self._issue(record)

    def commit(self, issued: Issued) -> Issued:
        """Record credentials from :meth:`prepare_rotation`."""
        device = issued.device.id
        with self._editing() as data:
            record = data.devices.get(device)
            if record is None:
                raise DeviceNotFoundError(device, self.path)
            if not record.active:
                raise RegistryError("was revoked meanwhile", device=device)
            data.devices[device] = issued.device
        log.info("issued new credentials to device %s", device)
        return issued

    def revoke(self, device: str) -> Device:
        """Mark ``device`` revoked; it leaves the password file and the ACL."""
        with self._editing() as data:
            record = data.devices.get(device)
            if record is None:
                raise DeviceNotFoundError(device, self.path)
            if record.active:
                record = record.model_copy(
                    update={"state": DeviceState.REVOKED, "revoked_at": self._clock()}
                )
                data.devices[device] = record
        log.info("revoked device %s", device)
        return record

    def _issue(self, record: Device) -> Issued:
        password = generate_password()
        update: dict[str, Any] = {
            "password_hash": password_hash(password),
            "credentials_issued_at": self._clock(),
        }
        certificate = None
        ca_pem = None
        if record.cert:
            certificate = self.ca.issue_client(record.id)
            ca_pem = self.ca.cert_pem
            update["cert_serial"] = f"{certificate.serial:x}"
            update["cert_not_after"] = certificate.not_after
        return Issued(record.model_copy(update=update), password, certificate, ca_pem)

    @contextlib.contextmanager
    def _editing(self) -> Iterator[_File]:
        """Load under an exclusive lock, yield, then save and refresh the broker files."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "registry.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._load()
            yield data
            write_private_file(self.path, data.model_dump_json(indent=2) + "\n")
            active = sorted(
                (d for d in data.devices.values() if d.active), key=lambda d: (d.site, d.id)
            )
            with _as_registry_error():
                write_password_lines(self.password_file, _password_lines(active))
                write_acl_file(self.acl_file, bridge_users=(), devices=_grants(active))


def _grants(devices: Iterable[Device]) -> list[DeviceGrant]:
    # Always a list, never None: an empty registry must grant nothing, not fall back to
    # render_acl's fleet-wide patterns.
    return [DeviceGrant(d.id, d.site) for d in devices]


def _acl_text(devices: Iterable[Device], bridge_users: Iterable[str]) -> str:
    with _as_registry_error():
        return render_acl(bridge_users=bridge_users, devices=_grants(devices))


def _password_lines(devices: Iterable[Device], extra: Iterable[Credential] = ()) -> list[str]:
    with _as_registry_error():
        return [
            *(hash_password(c.username, c.password) for c in extra),
            *(password_line(d.id, d.password_hash) for d in devices),
        ]


@contextlib.contextmanager
def _as_registry_error() -> Iterator[None]:
    """The broker's :class:`CredentialError` (a bad bridge name, a bridge named like a
    device) as this tier's :class:`RegistryError`, which the CLI reports."""
    try:
        yield
    except CredentialError as exc:
        raise RegistryError(exc.detail, device=exc.username) from exc
