"""S3 adapter against moto: reading, streaming and finding a job's output files."""

from __future__ import annotations

import pytest

from evalpipe.aws.objects import ObjectMissing, Objects, ObjectTooLarge

PREFIX = "results/support/support-20250101-000000-abcd1234/"
JOB = "support-20250101-000000-abcd1234"


@pytest.fixture
def objects(s3_client, bucket) -> Objects:
    return Objects(s3_client, bucket)


def output_key(dataset: str, uuid: str, model: str = "my-app-v1") -> str:
    """The nested layout Bedrock writes (job name twice, a random id, model and task levels)."""
    run_folder = f"{PREFIX}{JOB}/{JOB}/r4nd0m1d"
    return f"{run_folder}/models/{model}/taskTypes/General/datasets/{dataset}/{uuid}_output.jsonl"


def test_list_output_files_in_the_nested_layout(objects, s3_client, bucket):
    # Given a job's output: two result files, the permission sentinel, custom metric definitions,
    # a human-job style file without models/ level, and unrelated files
    wanted = [
        output_key("ds-a", "0f1e"),
        output_key("ds-b", "9a8b"),
        f"{PREFIX}{JOB}/7c6d5e4f/datasets/ds-h/11aa_output.jsonl",
    ]
    ignored = [
        f"{PREFIX}{JOB}/{JOB}/amazon-bedrock-evaluations-permission-check",
        f"{PREFIX}{JOB}/{JOB}/r4nd0m1d/custom_metrics/tone_output.jsonl",
        f"{PREFIX}{JOB}/{JOB}/r4nd0m1d/custom_metrics/tone.json",
        f"{PREFIX}{JOB}/{JOB}/r4nd0m1d/models/my-app-v1/summary.json",
        "results/support/other-run/x/y_output.jsonl",
    ]
    for key in wanted + ignored:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"")

    # When the run's output files are listed
    found = objects.list_output_files(PREFIX)

    # Then exactly the result files of this run are returned, sorted
    assert found == sorted(wanted)


def test_list_output_files_accepts_an_s3_uri(objects, s3_client, bucket):
    # Given one output file
    key = output_key("ds", "1234")
    s3_client.put_object(Bucket=bucket, Key=key, Body=b"")

    # When listed by the job's outputDataConfig.s3Uri
    # Then it is found; a URI of another bucket is refused
    assert objects.list_output_files(f"s3://{bucket}/{PREFIX}") == [key]
    with pytest.raises(ValueError, match="not in bucket"):
        objects.list_output_files(f"s3://other-bucket/{PREFIX}")


def test_list_output_files_follows_pagination(objects, s3_client, bucket):
    # Given 9 output files and 2 sentinels, listed 2 keys per request
    keys = [output_key(f"ds-{i}", f"{i:04d}") for i in range(9)]
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"")
    for i in range(2):
        s3_client.put_object(
            Bucket=bucket, Key=f"{PREFIX}{JOB}/{i}/amazon-bedrock-evaluations-permission-check"
        )
    calls: list[dict] = []
    s3_client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: calls.append(params["body"] or params)
    )

    # When the output files are listed with a page size of 2
    found = objects.list_output_files(PREFIX, page_size=2)

    # Then every page was read (11 keys / 2 = 6 requests) and every output file found
    assert len(calls) == 6
    assert found == sorted(keys)


def test_read_bytes_latest_and_specific_version(objects, s3_client, bucket):
    # Given a suite file written twice (versioned bucket)
    v1 = s3_client.put_object(Bucket=bucket, Key="suites/s.json", Body=b'{"v": 1}')["VersionId"]
    s3_client.put_object(Bucket=bucket, Key="suites/s.json", Body=b'{"v": 2}')

    # When it is read without and with the first version id
    # Then the latest and the requested version are returned
    assert objects.read_bytes("suites/s.json") == b'{"v": 2}'
    assert objects.read_bytes("suites/s.json", version_id=v1) == b'{"v": 1}'


def test_read_bytes_refuses_large_objects(objects, s3_client, bucket):
    # Given an object of 101 bytes
    s3_client.put_object(Bucket=bucket, Key="suites/big.json", Body=b"x" * 101)

    # When read with a limit of 100 bytes (and of exactly its size)
    # Then the first is refused, naming the object, and the second succeeds
    with pytest.raises(ObjectTooLarge, match=f"s3://{bucket}/suites/big.json"):
        objects.read_bytes("suites/big.json", max_bytes=100)
    assert len(objects.read_bytes("suites/big.json", max_bytes=101)) == 101


def test_missing_objects_and_versions_are_object_missing(objects, s3_client, bucket):
    # Given one existing object and a deleted version id
    version = s3_client.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    gone = s3_client.put_object(Bucket=bucket, Key="k", Body=b"y")["VersionId"]
    s3_client.delete_object(Bucket=bucket, Key="k", VersionId=gone)

    # When a missing key or the deleted version is read, streamed or inspected
    # Then ObjectMissing names the s3 URI (raised at call time, not on first iteration)
    with pytest.raises(ObjectMissing, match=f"s3://{bucket}/nope does not exist"):
        objects.read_bytes("nope")
    with pytest.raises(ObjectMissing, match=f"s3://{bucket}/nope"):
        objects.iter_chunks("nope")
    with pytest.raises(ObjectMissing, match=f"s3://{bucket}/nope"):
        objects.head("nope")
    with pytest.raises(ObjectMissing, match=f"s3://{bucket}/k \\(version {gone}\\)"):
        objects.read_bytes("k", version_id=gone)
    with pytest.raises(ObjectMissing):
        objects.head("k", version_id=gone)
    assert objects.head("k", version_id=version)["ContentLength"] == 1


def test_iter_chunks_streams_the_whole_body(objects, s3_client, bucket):
    # Given a 10 KB dataset
    body = b"".join(b'{"prompt": "p%d"}\n' % i for i in range(600))
    s3_client.put_object(Bucket=bucket, Key="datasets/s/d.jsonl", Body=body)

    # When it is streamed in 1 KB chunks
    chunks = list(objects.iter_chunks("datasets/s/d.jsonl", chunk_size=1024))

    # Then the chunks are bounded and add up to the object
    assert max(map(len, chunks)) <= 1024
    assert len(chunks) > 1
    assert b"".join(chunks) == body


def test_put_text_and_head(objects, s3_client, bucket):
    # Given a report text with non-ASCII characters
    text = "<p>Résumé ✓</p>"

    # When it is written
    objects.put_text("reports/s/r.html", text, "text/html; charset=utf-8")

    # Then it is stored as UTF-8 with its content type
    head = objects.head("reports/s/r.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert "ResponseMetadata" not in head
    assert objects.read_bytes("reports/s/r.html").decode("utf-8") == text
