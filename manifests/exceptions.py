"""Domain errors raised by the manifest operations.

They carry what a caller needs to explain the refusal; the API maps them to HTTP answers
(`manifests.api_errors`), the admin to messages and the commands to `CommandError`.
"""

from collections.abc import Iterable

from django.core.exceptions import ValidationError


class ManifestError(Exception):
    """Base class of every refusal of a manifest operation."""


class ManifestInUse(ManifestError):
    """The manifest is referenced by projects, so it may not be deleted or purged."""

    def __init__(self, projects: Iterable[tuple[object, str]]):
        self.projects = [{"id": str(pk), "name": name} for pk, name in projects]
        names = ", ".join(f"{p['name']} ({p['id']})" for p in self.projects)
        super().__init__(
            f"Manifest is referenced by {len(self.projects)} project(s): {names}. "
            "Unlink those projects first."
        )


class InvalidImage(ManifestError):
    """The uploaded file is not an image we accept."""


class UploadTooLarge(ManifestError):
    """The uploaded file is over the configured size limit."""

    def __init__(self, size: int | None, limit: int):
        self.size = size
        self.limit = limit
        got = f"{size} bytes" if size is not None else "too many bytes"
        super().__init__(f"File is too large: {got}; the limit is {limit} bytes.")


class BulkUploadRefused(ManifestError):
    """A bulk upload created nothing: every file was refused, or `atomic` was asked and
    some were. `refused` names each file (its position, name and why)."""

    def __init__(self, refused: list, *, atomic: bool):
        self.refused = refused
        self.atomic = atomic
        count = len(refused)
        files = f"{count} file{'s' if count != 1 else ''}"
        if atomic:
            reason = f"{files} refused and atomic was asked: nothing was created."
        else:
            reason = f"Every file was refused ({files}): nothing was created."
        listed = "; ".join(f"{r.file} (file {r.index + 1}): {r.reason}" for r in refused[:5])
        more = f"; and {count - 5} more" if count > 5 else ""
        super().__init__(f"{reason} {listed}{more}")


class BundleRefused(ManifestError):
    """A bundle (a manifest as a zip) that import refuses: `entry` names the part of it at
    fault (an entry of the zip, `manifest.json`, or `bundle` for the file as a whole),
    `reason` what is wrong with it. Nothing of the bundle was kept."""

    def __init__(self, entry: str, reason: str):
        self.entry = entry
        self.reason = reason
        super().__init__(f"{entry}: {reason}")


class StoredFileMissing(ManifestError):
    """A file a row names is gone from storage (removed by hand, lost in a restore)."""

    def __init__(self, what: str, name: str):
        self.name = name
        super().__init__(
            f"The image file of {what} is missing from storage ({name}); "
            "upload the image again, then retry."
        )


class StorageUnavailable(ManifestError):
    """File storage refused to write a file (a full disk, a folder that cannot be written,
    a remote store not answering or refusing: a missing bucket, 403); the operation was
    undone, it may succeed later."""

    def __init__(self, name: str, error: Exception, *, action: str = "write"):
        self.name = name
        # The reason only: an error's text may hold the server's absolute paths or the
        # object store's endpoint.
        code = getattr(error, "response", None) and error.response.get("Error", {}).get("Code")
        if code:  # the object store's answer (botocore's ClientError): NoSuchBucket, …
            reason = code
        elif getattr(error, "strerror", None):
            reason = error.strerror
        else:
            reason = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
        super().__init__(
            f"File storage is unavailable: it could not {action} {name} ({reason}). "
            "Nothing was saved; try again later."
        )


class VersionConflict(ManifestError):
    """The resource moved on since the caller read it: its change would overwrite another.

    `expected` is what the caller had: a version number (`of="version"`) or the ETags of
    an If-Match (`of="etag"`); the current version is that of
    the locked manifest, `current_etag` that of the resource the caller meant to change
    (the manifest, or `asset` when given), which a 412 answers with.
    """

    def __init__(
        self,
        manifest,
        *,
        expected: int | str,
        current_etag: str,
        of: str = "version",
        asset=None,
    ):
        self.manifest_id = manifest.pk
        self.current_version = manifest.version
        self.current_etag = current_etag
        self.expected = expected
        self.of = of
        if of == "version":
            moved = f"v{expected} → v{manifest.version}"
        else:
            moved = f"If-Match {expected}; its ETag is now {current_etag}"
        what = f"{asset.manifest_tag} “{asset.name}”" if asset is not None else f"“{manifest.name}”"
        super().__init__(
            f"{what} was changed by someone else since you read it ({moved}); "
            "nothing was saved. Reload it and apply your change again."
        )


class MalformedETag(ManifestError):
    """An If-Match that is neither `*` nor a list of quoted entity tags."""

    def __init__(self, header: str):
        self.header = header
        super().__init__(
            f"If-Match must be * or a comma-separated list of quoted ETags, as the ETag "
            f'header gives them (e.g. "0f…-r3"); got {header[:100]!r}.'
        )


def domain_error_message(exc: Exception) -> str:
    """The text of a refusal, for a message or a command's error: a ValidationError's
    messages joined (without the dict or list around them), else the exception's text."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
