"""Backup settings (STORAGE.md §6, SYSTEM.md §3.2): `backup/custom.yaml`, the backup target, the
encryption passphrase (`backup/secret_key.txt`) and the SSH key rsync targets log in with.

`custom.yaml` keeps the reference's keys and types: `target` (`off`, `local` or a URL),
`target_user`, `target_pass` (S3 credentials) and `min_age_in_days` (an integer), plus any other
key found there, in the reference's order. It holds a secret, so it is written 0600.

A target is parsed once into a `Target`, and every value that reaches a command line (the rsync
user and host, the S3 endpoint) is checked here, so no value can turn into an option of `rsync`,
`ssh` or `duplicity`.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import yaml

from core.errors import ConfigError, HostError, ValidationError
from core.formats import FormatError, yaml_document
from core.host import Host
from core.storage.files import atomic_write, file_lock

TargetKind = Literal["off", "local", "file", "rsync", "s3"]
Scalar = str | int | float | bool | None

DEFAULT_MIN_AGE: Final = 3  # days (SYSTEM.md §3.2)
MAX_MIN_AGE: Final = 36500  # 100 years: larger ages overflow the reference's date arithmetic
MAX_TARGET_CHARS: Final = 2048
MAX_CREDENTIAL_CHARS: Final = 1024
MIN_PASSPHRASE_CHARS: Final = 43  # base64 of AES-256's 32-byte key (the reference's check)
PASSPHRASE_BYTES: Final = 2048  # `openssl rand -base64 2048`, as setup makes it
SECRET_MODE: Final = 0o600

MIN_AGE_MESSAGE: Final = f"min_age must be a whole number of days from 1 to {MAX_MIN_AGE}."
CREDENTIAL_MESSAGE: Final = (
    f"The S3 access key and secret must each be one line of at most {MAX_CREDENTIAL_CHARS} "
    "characters."
)
# The reference's words (SYSTEM.md §3.2).
INVALID_TARGET: Final = "invalid target"
NO_BUCKET: Final = "Enter an S3 bucket name."
PASSPHRASE_TOO_SHORT: Final = "secret_key.txt's first line is too short!"

_USER_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE: Final = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")
_REGION_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed backup target. `url` is the target as configured (`local` expanded to its
    `file://` URL); the other fields are the parts each kind uses."""

    kind: TargetKind
    url: str
    folder: Path | None = None  # file: the folder holding the backup files
    user: str = ""  # rsync: the SSH login
    host: str = ""  # rsync: SSH host; s3: endpoint host (IPv6 in brackets)
    port: int | None = None  # rsync: SSH port; s3: endpoint port
    path: str = ""  # rsync: the remote path as written after the host
    region: str = ""  # s3: the region given as `region@host` (HEAD)
    bucket: str = ""  # s3
    prefix: str = ""  # s3: key prefix, "" or ending in "/"

    @property
    def remote(self) -> bool:
        return self.kind in ("rsync", "s3")

    @property
    def endpoint_url(self) -> str:
        """s3: the HTTPS endpoint duplicity and the listing talk to (HEAD's rule, keeping a
        port if one is given)."""
        return f"https://{self.host}" + (f":{self.port}" if self.port else "")

    @property
    def duplicity_url(self) -> str:
        """The URL duplicity is given. S3 goes through duplicity's boto3 backend
        (`boto3+s3://BUCKET/PREFIX`, the endpoint passed apart), as HEAD does; the `boto3+`
        form names that backend on duplicity 0.8 (Debian 12) and later alike."""
        if self.kind == "s3":
            return f"boto3+s3://{self.bucket}/{self.prefix}".rstrip("/")
        return self.url

    @property
    def rsync_location(self) -> str:
        """rsync: `user@host:path/` as the reference's listing names it (the port apart, a
        leading `/` of the URL path removed: `//abs` is absolute, `/rel` relative)."""
        path = self.path if self.path.endswith("/") else self.path + "/"
        return f"{self.user}@{self.host}:{path.removeprefix('/')}"


@dataclass(frozen=True, slots=True)
class BackupConfig:
    """The backup settings as stored, with the helper values the reference adds for the
    admin (SYSTEM.md §3.2). `target_pass` is a secret: never shown, never in `for_ui`."""

    target: str  # as stored: `off`, `local` or a URL
    target_user: str
    target_pass: str = field(repr=False)
    min_age_in_days: int
    file_target_directory: Path
    enc_pw_file: Path
    ssh_pub_key: str | None = None
    extra: Mapping[str, Scalar] = field(default_factory=dict)  # other keys of custom.yaml

    @property
    def target_url(self) -> str:
        """The target with `local` expanded to its `file://` URL."""
        return (
            "file://" + str(self.file_target_directory) if self.target == "local" else self.target
        )

    @property
    def enabled(self) -> bool:
        return self.target != "off"

    def for_ui(self) -> dict[str, object]:
        """`GET /system/backup/config`: the stored keys without the credentials, `target`
        expanded, the helper paths and the SSH public key (reference `for_ui`)."""
        data: dict[str, object] = {
            "min_age_in_days": self.min_age_in_days,
            "target": self.target_url,
            **self.extra,
            "file_target_directory": str(self.file_target_directory),
            "enc_pw_file": str(self.enc_pw_file),
        }
        if self.ssh_pub_key is not None:
            data["ssh_pub_key"] = self.ssh_pub_key
        return data


# --- custom.yaml -------------------------------------------------------------------------------

_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KNOWN: Final = ("min_age_in_days", "target", "target_user", "target_pass")


def read_stored(path: Path) -> dict[str, object]:
    """custom.yaml merged over the defaults, in the reference's key order (its `for_save`):
    a missing, unreadable or non-mapping file gives the defaults."""
    stored: dict[str, object] = {"min_age_in_days": DEFAULT_MIN_AGE, "target": "local"}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return stored
    if isinstance(data, dict):
        stored.update({str(k): v for k, v in data.items()})
    return stored


def stored_min_age(value: object) -> int:
    """The stored age as the operations use it: an integer below 1 (the reference stored
    what it was given) counts as 1, anything else that is not an integer as the default."""
    if isinstance(value, bool) or not isinstance(value, int):
        return DEFAULT_MIN_AGE
    return min(max(value, 1), MAX_MIN_AGE)


def load_config(backup_dir: Path, ssh_key: Path) -> BackupConfig:
    """The settings in `backup_dir/custom.yaml` (defaults where absent)."""
    stored = read_stored(backup_dir / "custom.yaml")
    target = stored.get("target")
    extra = {
        k: v
        for k, v in stored.items()
        if k not in _KNOWN and (v is None or isinstance(v, str | int | float | bool))
    }
    pub = ssh_key.with_name(ssh_key.name + ".pub")
    try:
        pub_text: str | None = pub.read_text(encoding="utf-8", errors="replace")
    except OSError:
        pub_text = None
    return BackupConfig(
        target=target if isinstance(target, str) else str(target),
        target_user=_text(stored.get("target_user")),
        target_pass=_text(stored.get("target_pass")),
        min_age_in_days=stored_min_age(stored.get("min_age_in_days")),
        file_target_directory=backup_dir / "encrypted",
        enc_pw_file=backup_dir / "secret_key.txt",
        ssh_pub_key=pub_text,
        extra=extra,
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


class _Dumper(yaml.SafeDumper):  # type: ignore[misc,unused-ignore]
    """Block style, as rtyaml writes."""


def _dump(data: object) -> str:
    text: str = yaml.dump(
        data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True
    )
    return text


def write_config(
    backup_dir: Path, *, target: str, target_user: str, target_pass: str, min_age: int
) -> None:
    """Write custom.yaml as the reference does: the stored mapping with the four keys
    replaced (others kept), 0600 since it holds the S3 secret.

    Raises:
        ValidationError: the values would not read back as themselves.
    """
    path = backup_dir / "custom.yaml"
    with file_lock(path):
        data = read_stored(path)
        data["target"] = target
        data["target_user"] = target_user
        data["target_pass"] = target_pass
        data["min_age_in_days"] = min_age
        try:
            text = yaml_document(data, _dump)
        except FormatError:
            raise ValidationError(INVALID_TARGET, field="target") from None
        atomic_write(path, text, mode=SECRET_MODE)


# --- validation --------------------------------------------------------------------------------


def parse_min_age(value: object) -> int:
    """`min_age` as given (form text or a number): a whole number of days from 1.

    Raises:
        ValidationError: anything else (the reference 500s on text and stores 0).
    """
    if isinstance(value, bool):
        raise ValidationError(MIN_AGE_MESSAGE, field="min_age")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+]?[0-9]{1,9}\s*", value):
        number = int(value)
    else:
        raise ValidationError(MIN_AGE_MESSAGE, field="min_age")
    if not 1 <= number <= MAX_MIN_AGE:
        raise ValidationError(MIN_AGE_MESSAGE, field="min_age")
    return number


def check_credential(value: object, name: str) -> str:
    """An S3 access key or secret: one printable line, bounded.

    Raises:
        ValidationError: not one.
    """
    if not isinstance(value, str) or len(value) > MAX_CREDENTIAL_CHARS or not value.isprintable():
        raise ValidationError(CREDENTIAL_MESSAGE, field=name)
    return value


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return len(host) <= 253 and _HOST_RE.fullmatch(host) is not None


def unsupported(target: str) -> ValidationError:
    shown = target if len(target) <= 200 else target[:200] + "…"
    return ValidationError(
        f"Unsupported backup target {shown!r}: use local, off, file:///FOLDER, "
        "rsync://USER@HOST[:PORT]/PATH or s3://[REGION@]HOST/BUCKET[/PREFIX].",
        field="target",
    )


def parse_target(text: object, *, local_folder: Path) -> Target:
    """Parse a target as the reference reads it (SYSTEM.md §3.1, STORAGE.md §6), checking the
    parts that reach a command line.

    Raises:
        ValidationError: the reference's words where it has them (`invalid target`,
            `Enter an S3 bucket name.`), else what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Enter a backup target.", field="target")
    if len(text) > MAX_TARGET_CHARS or not text.isprintable():
        raise ValidationError(INVALID_TARGET, field="target")
    if text == "off":
        return Target("off", "off")
    if text == "local":
        return Target("local", "file://" + str(local_folder), folder=local_folder)
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValidationError(INVALID_TARGET, field="target") from None
    if parts.query or parts.fragment:
        raise ValidationError(INVALID_TARGET, field="target")
    if parts.scheme == "file":
        folder = urllib.parse.unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not folder.startswith("/"):
            raise ValidationError(INVALID_TARGET, field="target")
        return Target("file", text, folder=Path(os.path.normpath(folder)))
    if parts.scheme == "rsync":
        user_host = parts.netloc.rsplit("@", 1)
        if len(user_host) != 2 or parts.password is not None:
            raise ValidationError(INVALID_TARGET, field="target")
        user = user_host[0]
        host = user_host[1]
        if port is not None:
            host = host.rsplit(":", 1)[0]
        if not _USER_RE.fullmatch(user) or not _valid_host(host) or port == 0:
            raise ValidationError(INVALID_TARGET, field="target")
        return Target("rsync", text, user=user, host=host, port=port, path=parts.path)
    if parts.scheme == "s3":
        region = ""
        host = parts.netloc
        if "@" in host:
            region, host = host.rsplit("@", 1)
            if not _REGION_RE.fullmatch(region):
                raise ValidationError(INVALID_TARGET, field="target")
        if port is not None:
            host = host.rsplit(":", 1)[0]
        if not _valid_host(host) or port == 0:
            raise ValidationError(INVALID_TARGET, field="target")
        bucket, _, prefix = parts.path.lstrip("/").partition("/")
        if not bucket:
            raise ValidationError(NO_BUCKET, field="target")
        prefix = prefix.strip("/")
        return Target(
            "s3",
            text,
            host=host,
            port=port,
            region=region,
            bucket=bucket,
            prefix=prefix + "/" if prefix else "",
        )
    raise unsupported(text)


# The characters that would end a file:// URL's path or change it when duplicity unquotes it.
_FILE_URL_UNSAFE: Final = {"%": "%25", "#": "%23", "?": "%3F"}


def split_target(target: str) -> tuple[TargetKind, str, str]:
    """A stored target as a form shows it: the kind, the main field, the rsync path.

    A `file://` target is its folder as duplicity reads it (unquoted; `localhost` dropped);
    `rsync://u@h/rel` has the path `rel` (in the user's home), `rsync://u@h//abs` `/abs`. A
    target that is none of ours is shown whole as a folder, for the checks to judge when
    saved. `join_target` gives back a target that means the same."""
    if target in ("off", "local"):
        return target, "", ""  # type: ignore[return-value]
    if target.startswith("file://"):
        parts = urllib.parse.urlsplit(target)
        if parts.netloc in ("", "localhost") and not parts.query and not parts.fragment:
            return "file", urllib.parse.unquote(parts.path), ""
        return "file", target, ""
    if target.startswith("rsync://"):
        where, slash, path = target.removeprefix("rsync://").partition("/")
        return "rsync", where, path if slash else ""
    if target.startswith("s3://"):
        return "s3", target.removeprefix("s3://"), ""
    return "file", target, ""


def join_target(kind: str, main: str, path: str = "") -> str:
    """The target from a form's fields (`split_target`'s parts; a URL typed whole is kept)."""
    main = main.strip()
    if kind in ("off", "local"):
        return kind
    if kind == "file":
        if main.startswith("file://"):
            return main
        return "file://" + "".join(_FILE_URL_UNSAFE.get(c, c) for c in main)
    if kind == "rsync":
        where = main.removeprefix("rsync://").rstrip("/")
        return f"rsync://{where}/{path.strip()}"
    return main if main.startswith("s3://") else "s3://" + main


# --- the passphrase ----------------------------------------------------------------------------


def ensure_passphrase(path: Path) -> bool:
    """Make `secret_key.txt` if there is none, as setup does (`openssl rand -base64 2048`:
    base64 in lines of 64 characters), born 0600. True if it was made now."""
    with file_lock(path):
        if path.exists():
            return False
        encoded = base64.b64encode(secrets.token_bytes(PASSPHRASE_BYTES)).decode("ascii")
        lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
        atomic_write(path, "\n".join(lines) + "\n", mode=SECRET_MODE)
        return True


def read_passphrase(path: Path) -> str:
    """The first line of `secret_key.txt`, which is what encrypts the backups.

    Raises:
        ConfigError: no such file, or its first line is shorter than 43 characters.
    """
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            passphrase = f.readline().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"There is no backup encryption key at {path}: backups made with another key "
            "cannot be read without it."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(PASSPHRASE_TOO_SHORT)
    return passphrase


# --- the SSH key -------------------------------------------------------------------------------


def ensure_ssh_key(host: Host, key: Path, comment: str) -> bool:
    """Make the RSA key rsync targets log in with if it is missing, as setup does
    (`ssh-keygen -t rsa -b 2048 -a 100 -N ''`). True if it was made now.

    Raises:
        HostError: ssh-keygen is not installed or failed.
    """
    pub = key.with_name(key.name + ".pub")
    if key.exists() and pub.exists():
        return False
    key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with file_lock(key):
        if key.exists() and pub.exists():
            return False
        for stale in (key, pub):  # a half-made pair: ssh-keygen would ask before overwriting
            stale.unlink(missing_ok=True)
        made = host.run(
            ["ssh-keygen", "-t", "rsa", "-b", "2048", "-a", "100", "-f", str(key)]
            + ["-N", "", "-q", "-C", comment],
            timeout=60,
        )
        if made.missing:
            raise HostError(
                "ssh-keygen is not installed here (Debian package openssh-client): "
                "no SSH key for rsync targets."
            )
        if not made.ok:
            raise HostError(f"The SSH key for rsync targets could not be made: {made.detail}")
    return True
