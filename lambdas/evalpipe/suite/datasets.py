"""Which ``datasetMetricConfigs`` entries of a suite name a built-in dataset, and which one the
dropped dataset object fills.

An entry whose ``dataset.name`` starts with ``Builtin.`` (``Builtin.BoolQ``, ``Builtin.TriviaQA``,
...) names one of Bedrock's prompt datasets: the request sends it exactly as the suite gives it,
without a ``datasetLocation``. Any other entry is *custom*: the pipeline fills in its dataset from
the dropped object (``datasets/<suite>/<name>.jsonl``), so a suite holds at most one.

A suite with custom entry runs when a dataset is dropped; a suite that names only built-in
datasets has nothing to drop and runs on its schedule or on ``evalpipe run --suite S``. So does a
suite that collects its dataset from a scenarios file on every requested run
(``pipeline.collect.scenarios``, docs/collect.md).

Everything here reads the raw parsed suite defensively (any value) and never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

BUILTIN_DATASET_PREFIX = "Builtin."
ROOTS = ("automated", "human")
# Why a suite with a custom dataset cannot have a schedule (the model's and the rules' message).
SCHEDULE_NEEDS_BUILTIN_DATASETS = (
    "a schedule runs the suite without a dataset drop, so every datasetMetricConfigs entry must name a "
    "built-in dataset (dataset.name 'Builtin.BoolQ', 'Builtin.TriviaQA', ...), or the suite must collect "
    "its dataset on each run: set pipeline.collect.scenarios to a scenarios file under "
    "scenarios/<suite>/ (docs/collect.md); otherwise a suite with a custom dataset runs when a dataset "
    "is dropped under datasets/<suite>/: remove pipeline.schedule"
)


@dataclass(frozen=True)
class DatasetEntry:
    """One ``datasetMetricConfigs`` entry.

    Attributes
    ----------
    root
        ``automated`` or ``human`` (the ``evaluationConfig`` member holding it).
    index
        Its position in ``datasetMetricConfigs``.
    name
        ``dataset.name`` when the suite gives one (a string), else None.
    """

    root: str
    index: int
    name: str | None

    @property
    def builtin(self) -> bool:
        return is_builtin_dataset(self.name)

    @property
    def path(self) -> str:
        """``evaluationConfig.<root>.datasetMetricConfigs[<index>]``."""
        return f"evaluationConfig.{self.root}.datasetMetricConfigs[{self.index}]"


def is_builtin_dataset(name: object) -> bool:
    """True for a dataset name in the reserved ``Builtin.`` namespace (known or not).

    Examples
    --------
    >>> is_builtin_dataset("Builtin.BoolQ"), is_builtin_dataset("week-12"), is_builtin_dataset(None)
    (True, False, False)
    """
    return isinstance(name, str) and name.startswith(BUILTIN_DATASET_PREFIX)


def dataset_entries(suite: object) -> list[DatasetEntry]:
    """Every object entry of ``evaluationConfig.{automated,human}.datasetMetricConfigs``, in order."""
    config = suite.get("evaluationConfig") if isinstance(suite, dict) else None
    entries: list[DatasetEntry] = []
    for root in ROOTS:
        member = config.get(root) if isinstance(config, dict) else None
        configs = member.get("datasetMetricConfigs") if isinstance(member, dict) else None
        for index, entry in enumerate(configs if isinstance(configs, list) else []):
            if not isinstance(entry, dict):
                continue
            dataset = entry.get("dataset")
            name = dataset.get("name") if isinstance(dataset, dict) else None
            entries.append(DatasetEntry(root, index, name if isinstance(name, str) else None))
    return entries


def custom_entries(suite: object) -> list[DatasetEntry]:
    """The entries the dropped dataset object fills (not ``Builtin.*``)."""
    return [entry for entry in dataset_entries(suite) if not entry.builtin]


def builtin_dataset_names(suite: object) -> list[str]:
    """``dataset.name`` of every built-in entry, in order."""
    return [entry.name for entry in dataset_entries(suite) if entry.builtin and entry.name]


def names_only_builtin_datasets(suite: object) -> bool:
    """True when the suite has dataset entries and every one names a built-in dataset.

    Examples
    --------
    >>> suite = {"evaluationConfig": {"automated": {"datasetMetricConfigs": [
    ...     {"dataset": {"name": "Builtin.BoolQ"}}, {"dataset": {"name": "Builtin.TriviaQA"}}]}}}
    >>> names_only_builtin_datasets(suite), builtin_dataset_names(suite)
    (True, ['Builtin.BoolQ', 'Builtin.TriviaQA'])
    >>> names_only_builtin_datasets({"evaluationConfig": {"automated": {"datasetMetricConfigs": [{}]}}})
    False
    """
    entries = dataset_entries(suite)
    return bool(entries) and all(entry.builtin for entry in entries)


def collected_scenarios_file(suite: object) -> str | None:
    """``pipeline.collect.scenarios``: the file under ``scenarios/<suite>/`` a run request collects
    its dataset from, or None (read defensively: not a string is None).

    Examples
    --------
    >>> collected_scenarios_file({"pipeline": {"collect": {"scenarios": "chat.json"}}})
    'chat.json'
    >>> collected_scenarios_file({"pipeline": {"collect": {}}}), collected_scenarios_file([])
    (None, None)
    """
    pipeline = suite.get("pipeline") if isinstance(suite, dict) else None
    collect = pipeline.get("collect") if isinstance(pipeline, dict) else None
    scenarios = collect.get("scenarios") if isinstance(collect, dict) else None
    return scenarios if isinstance(scenarios, str) and scenarios else None


def runs_on_request(suite: object) -> bool:
    """Whether a run request (a schedule, ``evalpipe run``) can run the suite: it names only
    built-in datasets, or it collects its dataset from a scenarios file (`collected_scenarios_file`)."""
    return names_only_builtin_datasets(suite) or collected_scenarios_file(suite) is not None
