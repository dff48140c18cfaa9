"""S3 adapter: read suite files, stream datasets and outputs, find a job's output files, write reports.

The boto3 S3 client is injected (never created here), so tests pass a moto-backed or stubbed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Iterator

OUTPUT_SUFFIX = "_output.jsonl"
PERMISSION_CHECK = "amazon-bedrock-evaluations-permission-check"
CUSTOM_METRICS_DIR = "custom_metrics"
# Error codes S3 uses for "no such object / version"; HEAD has no body, so only "404" there.
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


class ObjectMissing(Exception):
    """The object (or the requested version of it) does not exist."""


class ObjectTooLarge(Exception):
    """The object is larger than the caller is willing to read into memory."""


class ObjectChanged(Exception):
    """The object no longer is the version the caller named (its ETag differs)."""


class Objects:
    """The product bucket.

    Parameters
    ----------
    s3_client
        A boto3 S3 client.
    bucket
        The bucket name.

    Examples
    --------
    >>> objects = Objects(boto3.client("s3"), "my-bucket")  # doctest: +SKIP
    >>> objects.list_output_files("results/support/run-1/")  # doctest: +SKIP
    ['results/support/run-1/run-1/run-1/x1/models/app/taskTypes/General/datasets/d/ab_output.jsonl']
    """

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def uri(self, key: str) -> str:
        """`s3://<bucket>/<key>`."""
        return f"s3://{self.bucket}/{key}"

    def read_bytes(self, key: str, version_id: str | None = None, max_bytes: int = 1_000_000) -> bytes:
        """The whole object, for small objects such as suite files.

        Parameters
        ----------
        key
            Object key.
        version_id
            A specific version (the one the S3 event named), else the latest.
        max_bytes
            Refuse objects larger than this rather than load them into memory.

        Returns
        -------
        bytes
            The object's content.

        Raises
        ------
        ObjectMissing
            If the key or version does not exist.
        ObjectTooLarge
            If the object is larger than `max_bytes`.
        """
        body = self._get(key, version_id)["Body"]
        try:
            # Read one byte more than allowed: the length check does not trust ContentLength alone.
            data = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"{self.uri(key)} is larger than {max_bytes} bytes")
        return data

    def iter_chunks(
        self, key: str, version_id: str | None = None, chunk_size: int = 1 << 16
    ) -> Iterator[bytes]:
        """Stream the object in chunks (lines may span chunks: split with `evalpipe.dataset`).

        The GET is issued immediately, so a missing object raises here, not on first iteration.

        Parameters
        ----------
        key
            Object key.
        version_id
            A specific version, else the latest.
        chunk_size
            Bytes per chunk (the last one may be shorter).

        Returns
        -------
        Iterator[bytes]
            The chunks; the HTTP body is closed when the iterator is exhausted or closed.

        Raises
        ------
        ObjectMissing
            If the key or version does not exist.
        """
        body = self._get(key, version_id)["Body"]
        return _stream(body, chunk_size)

    def copy_version(
        self, source_key: str, version_id: str | None, etag: str | None, target_key: str
    ) -> dict[str, Any]:
        """Copy exactly one version of an object to another key of the bucket (server side).

        The copy names the version and requires its ETag, so what lands at ``target_key`` is the
        object that was dropped, even when the key has been overwritten since (or, in a bucket
        without versioning, the copy fails instead of taking the newer content).

        Returns
        -------
        dict
            ``{bucket, key, version_id, etag}`` of the copy.

        Raises
        ------
        ObjectMissing
            The version no longer exists.
        ObjectChanged
            The object at ``source_key`` is not the one with ``etag`` any more.
        """
        source: dict[str, str] = {"Bucket": self.bucket, "Key": source_key}
        if version_id:
            source["VersionId"] = version_id
        extra = {"CopySourceIfMatch": f'"{etag.strip(chr(34))}"'} if etag else {}
        try:
            response = self._s3.copy_object(Bucket=self.bucket, Key=target_key, CopySource=source, **extra)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING_CODES:
                raise ObjectMissing(f"{self.uri(source_key)} (version {version_id}) does not exist") from exc
            if code in ("PreconditionFailed", "412"):
                raise ObjectChanged(
                    f"{self.uri(source_key)} is no longer the object with ETag {etag}"
                ) from exc
            raise
        return {
            "bucket": self.bucket,
            "key": target_key,
            "version_id": response.get("VersionId"),
            "etag": str(response.get("CopyObjectResult", {}).get("ETag", "")).strip('"') or None,
        }

    def head(self, key: str, version_id: str | None = None) -> dict:
        """The object's metadata (`ContentLength`, `ETag`, `VersionId`, ...), without ResponseMetadata.

        Raises
        ------
        ObjectMissing
            If the key or version does not exist.
        """
        kwargs: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._s3.head_object(**kwargs)
        except ClientError as exc:
            raise self._translate(exc, key, version_id) from exc
        response.pop("ResponseMetadata", None)
        return response

    def list_output_files(self, prefix: str, *, page_size: int | None = None) -> list[str]:
        """Keys of the evaluation job's `*_output.jsonl` files under `prefix`, sorted.

        Bedrock nests the files under random ids
        (`<prefix>/<job>/<job>/<id>/models/<src>/taskTypes/<t>/datasets/<ds>/<uuid>_output.jsonl`),
        so they are found by listing, never by building the path. The empty permission-check
        object and anything under a `custom_metrics/` folder (metric definitions) are ignored.

        Parameters
        ----------
        prefix
            Key prefix (the job's `outputDataConfig.s3Uri` minus `s3://<bucket>/`); an
            `s3://` URI of this bucket is accepted too.
        page_size
            Keys per list request (S3's default is 1000); tests use a small page.

        Returns
        -------
        list[str]
            Output file keys in lexicographic order.
        """
        prefix = self._key_prefix(prefix)
        pagination: dict[str, int] = {"PageSize": page_size} if page_size else {}
        paginator = self._s3.get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, PaginationConfig=pagination):
            keys.extend(obj["Key"] for obj in page.get("Contents", ()) if is_output_file(obj["Key"]))
        return sorted(keys)

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_text(self, key: str, text: str, content_type: str) -> None:
        """Write `text` as UTF-8 (add `; charset=utf-8` to `content_type` for browsers)."""
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)

    def _get(self, key: str, version_id: str | None) -> dict:
        kwargs: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return self._s3.get_object(**kwargs)
        except ClientError as exc:
            raise self._translate(exc, key, version_id) from exc

    def _translate(self, exc: ClientError, key: str, version_id: str | None) -> Exception:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            version = f" (version {version_id})" if version_id else ""
            return ObjectMissing(f"{self.uri(key)}{version} does not exist")
        return exc

    def _key_prefix(self, prefix: str) -> str:
        if not prefix.startswith("s3://"):
            return prefix
        bucket, _, key_prefix = prefix.removeprefix("s3://").partition("/")
        if bucket != self.bucket:
            raise ValueError(f"{prefix} is not in bucket {self.bucket}")
        return key_prefix


def is_output_file(key: str) -> bool:
    """Whether `key` is an evaluation result file (not a metric definition or the sentinel)."""
    *folders, name = key.split("/")
    return name.endswith(OUTPUT_SUFFIX) and name != PERMISSION_CHECK and CUSTOM_METRICS_DIR not in folders


def _stream(body: Any, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_size)
    finally:
        body.close()
