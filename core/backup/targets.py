"""Listing a backup target (the reference's `list_target_files`): the names and sizes of the
files there. Used to test a target before it is saved, and for the sizes in the status.

* `file://`: the folder's files.
* `rsync://`: `rsync --list-only -r` over SSH with the box's key; failures in the reference's
  words (`Connection to rsync host failed: …`).
* `s3://`: the bucket listed through boto3 (the library duplicity's S3 backend uses, so it is
  on a box that backs up to S3 anyway), failures in v0.51's words (`Invalid S3 bucket name.`…).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.backup.settings import Target
from core.errors import ValidationError
from core.host import Host

# One line of `rsync --list-only` (the reference's pattern): size (with thousands commas),
# date, time, name.
_RSYNC_LINE: Final = re.compile(r".*    ([^ ]*) [^ ]* [^ ]* (.*)")
RSYNC_TIMEOUT: Final = 60.0
S3_TIMEOUT: Final = 15.0
MAX_FILES: Final = 200_000  # a listing longer than this is not a backup target we made

RSYNC_FAILED: Final = "Connection to rsync host failed: {}"
RSYNC_UNKNOWN: Final = (
    "Unknown error."
    "Please check running 'management/backup.py --verify'"
    "from mailinabox sources to debug the issue."
)
S3_BAD_KEYS: Final = "Invalid S3 access key or secret access key."
S3_BAD_BUCKET: Final = "Invalid S3 bucket name."
S3_BAD_REGION: Final = "Incorrect region for this bucket."


@dataclass(frozen=True, slots=True)
class TargetFile:
    name: str
    size: int


def ssh_command(host: Host, key: Path, port: int | None, known_hosts: Path | None) -> str:
    """The `ssh` command line rsync runs (its `-e`), as the reference writes it, plus bounds:
    a connection that cannot be made in 10 s, or that goes silent for a minute, ends."""
    ssh = host.which("ssh") or "/usr/bin/ssh"
    words = [ssh, "-i", str(key), "-oStrictHostKeyChecking=no", "-oBatchMode=yes"]
    words += ["-p", str(port or 22), "-oConnectTimeout=10"]
    words += ["-oServerAliveInterval=15", "-oServerAliveCountMax=4"]
    if known_hosts is not None:
        words.append(f"-oUserKnownHostsFile={known_hosts}")
    return " ".join(shlex.quote(w) for w in words)


def list_file_target(folder: Path, *, missing_ok: bool = False) -> tuple[TargetFile, ...]:
    """The files in a `file://` target's folder.

    Raises:
        ValidationError: the folder does not exist (unless `missing_ok`) or cannot be read.
    """
    files: list[TargetFile] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_file():
                        files.append(TargetFile(entry.name, entry.stat().st_size))
                except OSError:
                    continue  # removed while we looked
                if len(files) > MAX_FILES:
                    break
    except FileNotFoundError:
        if missing_ok:
            return ()
        raise ValidationError(
            f"The backup folder {folder} does not exist.", field="target"
        ) from None
    except NotADirectoryError:
        raise ValidationError(f"{folder} is not a folder.", field="target") from None
    except OSError as exc:
        raise ValidationError(
            f"The backup folder {folder} cannot be read: {exc.strerror}.", field="target"
        ) from None
    return tuple(files)


def list_rsync_target(
    host: Host,
    target: Target,
    *,
    key: Path,
    known_hosts: Path | None,
    timeout: float = RSYNC_TIMEOUT,
) -> tuple[TargetFile, ...]:
    """`rsync --list-only -r` of the target over SSH with the box's key.

    Raises:
        ValidationError: `Connection to rsync host failed: REASON` in the reference's words.
    """
    argv = [
        "rsync",
        "-e",
        ssh_command(host, key, target.port, known_hosts),
        "--list-only",
        "-r",
        target.rsync_location,
    ]
    done = host.run(argv, timeout=timeout, env={"LC_ALL": "C.UTF-8"})
    if done.missing:
        raise ValidationError(
            RSYNC_FAILED.format("rsync is not installed here (Debian package rsync)."),
            field="target",
        )
    if done.ok:
        files = []
        for line in done.stdout.splitlines():
            match = _RSYNC_LINE.match(line)
            if match and not line.startswith("d"):
                size = match.group(1).replace(",", "")
                if size.isdigit():
                    files.append(TargetFile(match.group(2), int(size)))
            if len(files) > MAX_FILES:
                break
        return tuple(files)
    output = done.stdout + done.stderr
    path = target.rsync_location.partition(":")[2]
    if done.timed_out:
        reason = "The connection timed out."
    elif "Permission denied (publickey)." in output:
        reason = "Invalid user or check you correctly copied the SSH key."
    elif "No such file or directory" in output:
        reason = f"Provided path {path} is invalid."
    elif "Network is unreachable" in output:
        reason = f"The IP address {target.host} is unreachable."
    elif "Could not resolve hostname" in output:
        reason = f"The hostname {target.host} cannot be resolved."
    else:
        reason = RSYNC_UNKNOWN
    raise ValidationError(RSYNC_FAILED.format(reason), field="target")


def list_s3_target(
    target: Target, *, access_key: str, secret: str, timeout: float = S3_TIMEOUT
) -> tuple[TargetFile, ...]:
    """The objects under the target's prefix, names relative to it.

    Raises:
        ValidationError: v0.51's words for 403, 404 and 301, else the server's reason.
    """
    try:  # heavy: imported only when an S3 target is used
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            ParamValidationError,
        )
    except ImportError:
        raise ValidationError(
            "S3 targets need boto3, which is not installed here (PyPI boto3).", field="target"
        ) from None

    credentials = (
        {"aws_access_key_id": access_key, "aws_secret_access_key": secret}
        if access_key or secret
        else {}
    )
    files: list[TargetFile] = []
    try:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=target.endpoint_url,
            region_name=target.region or None,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 1},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
            **credentials,
        )
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=target.bucket, Prefix=target.prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                files.append(TargetFile(item["Key"][len(target.prefix) :], int(item["Size"])))
            if len(files) > MAX_FILES:
                break
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code", "")
        if status == 403 or code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
            message = S3_BAD_KEYS
        elif status == 404 or code == "NoSuchBucket":
            message = S3_BAD_BUCKET
        elif status == 301 or code == "PermanentRedirect":
            message = S3_BAD_REGION
        else:
            message = str(exc.response.get("Error", {}).get("Message") or code or exc)[:500]
        raise ValidationError(message, field="target") from None
    except NoCredentialsError:
        raise ValidationError(S3_BAD_KEYS, field="target") from None
    except ParamValidationError:
        raise ValidationError(S3_BAD_BUCKET, field="target") from None
    except BotoCoreError as exc:
        raise ValidationError(str(exc)[:500], field="target") from None
    return tuple(files)


def duplicity_files(files: Sequence[TargetFile]) -> tuple[TargetFile, ...]:
    """The files duplicity made (the others are not part of a backup)."""
    return tuple(f for f in files if f.name.startswith("duplicity-"))
