"""Parse step: stream every `*_output.jsonl` of the job into per-record items and a run summary."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from evalpipe import scratch
from evalpipe.dataset import iter_raw_lines
from evalpipe.history.review import review
from evalpipe.history.score_table import ScoreTable
from evalpipe.results import DatasetIndex, OutputReader
from evalpipe.run.model import ShardStatus
from evalpipe.run.outcome import ShardOutcome
from evalpipe.run.status import RunStatus
from evalpipe.run.triggers import DatasetObject, results_prefix

if TYPE_CHECKING:
    from evalpipe.ports import Ports
    from evalpipe.run.model import Run
    from evalpipe.run.triggers import RunTrigger
    from evalpipe.suite import Suite


class NoResultsError(RuntimeError):
    """A Completed job left no `*_output.jsonl` under its output prefix."""


def parse(run_id: str, ports: Ports) -> Run:
    """Aggregate the job's results and store them; running it twice stores the same items.

    Output files are found by listing the run's prefix (the layout below it is nested and
    partly random), read in key order, and records are numbered in that order, so a re-parse
    overwrites the same record items instead of adding new ones.

    Returns
    -------
    Run
        The run as stored: COMPLETED, with its summary, its comparison and its final verdict.
    """
    run = ports.runs.load(run_id)
    # Every job of the run has ended: whatever slot a crashed step left taken is given back.
    ports.slots.release_run(run_id)
    outcome = ShardOutcome.of(run)
    if not outcome.completed:  # no job completed: nothing to parse, the run ends with its shards
        outcome.record_on(run, ports.clock())
        return ports.runs.save(run)
    suite = run.validated_suite()
    trigger = run.started_by()
    # Every completed job's output files, shard by shard in dataset order: records keep their order.
    keys: list[str] = []
    for shard in run.all_shards():
        if run.shards and shard.status is not ShardStatus.COMPLETED:
            continue
        prefix = shard.output_prefix or results_prefix(suite.name, run_id)
        found = ports.objects.list_output_files(prefix)
        if not found:
            raise NoResultsError(
                f"job {shard.job_name or run.job_name} completed but left no *_output.jsonl under "
                f"s3://{ports.settings.bucket_name}/{prefix}"
            )
        keys.extend(found)

    # The dataset index and the review's score tables hold their rows on disk; the session deletes
    # them however the step ends (`evalpipe.scratch`).
    with scratch.session():
        reviewed = _store_and_review(run, suite, trigger, keys, ports)
    if outcome.unfinished:  # the completed shards' scores stay; the run ends with the others
        outcome.record_on(reviewed, ports.clock())
        return ports.runs.save(reviewed)
    return reviewed


def _store_and_review(run: Run, suite: Suite, trigger: RunTrigger, keys: list[str], ports: Ports) -> Run:
    run_id = run.run_id
    # The dataset beside the results: each record's line gives the category Bedrock's copy of the
    # line may lack, and the run learns whether the results cover exactly the dataset. The copy is
    # read, the very version that was validated and evaluated. A run of built-in datasets has no
    # dataset object: records keep the categories they carry, and Bedrock sizes those datasets.
    dataset = _dataset_index(run, trigger, ports)
    reader = OutputReader(suite, dataset)
    # The key gives each record its dataset; classic outputs' "Accuracy" -> Builtin.Accuracy.
    records = reader.records(keys, lambda key: iter_raw_lines(ports.objects.iter_chunks(key)))
    # The review's scores are taken as the records are stored, not read back (`ScoreTable`).
    scores = ScoreTable(partial(ports.runs.get_records, run_id))
    written = ports.runs.put_records(run_id, records, on_item=scores.add_stored)
    # A re-parse that found fewer records must not leave the earlier surplus behind.
    ports.runs.delete_records_from(run_id, written)
    reader.summary().record_on(run)
    run.coverage = dataset.coverage() if dataset is not None else None
    if dataset is not None:
        dataset.close()  # its pages go to the baseline's table and the matching
    run.status = RunStatus.COMPLETED
    run.output_files = len(keys)
    run.finished_at = ports.clock()
    return review(ports.runs.save(run), suite, ports, records=scores)


def _dataset_index(run: Run, trigger: RunTrigger, ports: Ports) -> DatasetIndex | None:
    source = run.input_dataset
    if source is not None:  # a dropped dataset's copy, or the dataset the run collected
        key, version_id = source.key, source.version_id
    elif isinstance(trigger, DatasetObject):  # a run recorded before copies existed
        key, version_id = trigger.key, trigger.version_id
    else:
        return None  # built-in datasets: no dataset object to read
    # Read once to index; again only to quote the lines the results lack (`DatasetIndex.coverage`).
    return DatasetIndex.from_source(
        lambda: iter_raw_lines(ports.objects.iter_chunks(key, version_id=version_id))
    )
