"""Jobs, schedules and sensors.

Dagster refuses one asset job over assets with different partitions definitions, so the daily ingestion is a
chain of runs, one per partition family, in dependency order:

1. `daily_full_ingestion` (02:00 America/Sao_Paulo) launches `aneel_snapshot_job` for today's partition:
   the catalog and both raw files (conditional downloads).
2. When it succeeds, `aneel_load_after_snapshot` launches `aneel_generation_units_job` as ONE single-run
   range over the 27 UFs (the file is read once) and `aneel_tariffs_job` as one range over the years, each
   only when some partition was not loaded from the latest snapshot: a raw snapshot's data version is its
   content sha256 and Dagster records, with each load, the data version of the snapshot it read, so an
   unchanged file is not reloaded.
3. `aneel_tariffs_current_job` follows the tariffs load (or runs straight away when tariffs were already
   current, since "in force today" changes with the date).

Beside it, `catalog_daily` (03:00) launches each distributor's catalog run of the day and
`certifications_weekly` refreshes the certification lists; `ysh daily` and CI run them after the ANEEL chain.

`hourly_incremental` checks the catalog and conditional responses every hour and launches step 1 only for
the resources that changed; steps 2 and 3 follow the same way.

Downstream of those runs the chain is declarative (`CONDITIONS`, evaluated by `daily_chain_automation`): the
search index after its sources, datasheets re-extracted when the extractor's version changes, the change log
after the generation units and the daily report at 07:00 once nothing upstream is running.

Steps 2 and 3 stay run-status sensors, not `AutomationCondition`s. The 27 UFs would not be the obstacle: the
automation sensor emits one backfill for a tick's partitions (`emit_backfills`), which the backfill daemon runs
as ONE run under `generation_units`' single-run policy. The reload rule is: a load follows a snapshot only when
the file's content (its data version) differs from what the partition was loaded from. Each day's snapshot is a
new partition behind a `LastPartitionMapping`, so `any_deps_updated` fires every day for an unchanged file, and
`data_version_changed` compares one partition with its own past, never today's snapshot with yesterday's;
a custom condition would need the sensor evaluated in the code server. `loads_behind` says it in a few lines.
"""

import hashlib
from datetime import date
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG, get_input_data_version_tag

from ysh_assets.aneel.assets import (
    DATASETS,
    GD_UNITS_RAW,
    GENERATION_UNITS,
    TARIFF_YEARS,
    TARIFFS,
    TARIFFS_RAW,
    TIMEZONE,
    UF_PARTITIONS,
    recorded_snapshot,
    today_in_brazil,
)
from ysh_assets.aneel.ckan import CkanError
from ysh_assets.aneel.portal import AneelPortal, change_since
from ysh_assets.audit.definitions import audit_gd_changes_job
from ysh_assets.catalog.assets import EQUIPMENT_PARTITIONS
from ysh_assets.catalog.definitions import catalog_certifications_job, catalog_daily_job
from ysh_assets.catalog.distributors import DISTRIBUTORS
from ysh_assets.ops.report import DAILY_REPORT
from ysh_assets.search.definitions import search_index_job

aneel_snapshot_job = dg.define_asset_job(
    "aneel_snapshot_job",
    selection=dg.AssetSelection.assets(DATASETS, GD_UNITS_RAW, TARIFFS_RAW),
    tags={"ysh/source": "aneel"},
    description="Today's ANEEL catalog and raw files (partition = snapshot day).",
)
aneel_generation_units_job = dg.define_asset_job(
    "aneel_generation_units_job",
    selection=dg.AssetSelection.assets(GENERATION_UNITS),
    tags={"ysh/heavy": "true"},
    description="Generation units by UF; run all UFs as one single-run range so the file is read once.",
)
aneel_tariffs_job = dg.define_asset_job(
    "aneel_tariffs_job",
    selection=dg.AssetSelection.assets(TARIFFS),
    description="Tariffs by validity-start year; run the years as one single-run range.",
)
aneel_tariffs_current_job = dg.define_asset_job(
    "aneel_tariffs_current_job",
    selection=dg.AssetSelection.assets(["aneel", "tariffs_current"]),
    description="The tariffs in force today, to Redis and the warehouse.",
)


def full_range_tags(partitions_def: dg.PartitionsDefinition) -> dict[str, str]:
    keys = partitions_def.get_partition_keys()
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


# The loads that are backfilled by hand (a parser fix, a quarantine resolved): job and partitions.
BACKFILLS = {
    "generation_units": (aneel_generation_units_job, UF_PARTITIONS),
    "tariffs": (aneel_tariffs_job, TARIFF_YEARS),
}


def backfill_sequence(
    load: str, partition_keys: list[str] | None = None, *, isolated: bool = False
) -> list[tuple[str, dict[str, str]]]:
    """A backfill of `load` as (job name, run tags), the shape `run_daily_sequence` and `dagster job execute` take.

    Batch (default): one run per contiguous range of the keys, the plan Dagster's own backfills make under the
    single-run policy, so the file is read once. Isolated: one run per partition, so a partition that fails
    fails alone and is retried alone; Dagster applies an asset's backfill policy to every backfill of it, so
    isolated runs are launched as single-partition runs."""
    job, partitions_def = BACKFILLS[load]
    every = partitions_def.get_partition_keys()
    keys = every if partition_keys is None else partition_keys
    if unknown := sorted(set(keys) - set(every)):
        raise ValueError(f"{load} has no partitions {unknown}; its partitions are {every[0]} ... {every[-1]}")
    if isolated:
        return [(job.name, {"dagster/partition": key}) for key in keys]
    ranges = partitions_def.subset_with_partition_keys(keys).get_partition_key_ranges(partitions_def)
    return [
        (job.name, {"dagster/asset_partition_range_start": r.start, "dagster/asset_partition_range_end": r.end})
        for r in ranges
    ]


@dg.schedule(
    name="daily_full_ingestion",
    job=aneel_snapshot_job,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_full_ingestion(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Starts the daily chain: today's snapshot; the loads follow (see the module docstring)."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day, tags={"ysh/refresh": "daily"})


@dg.schedule(
    name="hourly_incremental",
    job=aneel_snapshot_job,
    cron_schedule="0 * * * *",
    execution_timezone=TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def hourly_incremental(
    context: dg.ScheduleEvaluationContext, aneel_portal: AneelPortal
) -> dg.RunRequest | dg.SkipReason:
    """Launches a snapshot run only for resources whose catalog entry or conditional response moved since the
    latest snapshot (the same decision the raw asset makes, from the source its materialization recorded)."""
    changed: dict[dg.AssetKey, str] = {}
    unchanged: list[str] = []
    try:
        with aneel_portal.client(within_tick=True) as client:
            for tracked in aneel_portal.tracked().values():
                raw_key = dg.AssetKey(["aneel", f"{tracked.name}_raw"])
                known = recorded_snapshot(context.instance, raw_key)
                resource = client.resource(tracked.package, tracked.resource_id)
                if reason := change_since(client, resource, known):
                    changed[raw_key] = reason
                else:
                    unchanged.append(f"{tracked.name}: unchanged since {known.get('downloaded_at')}")
    except CkanError as error:
        return dg.SkipReason(f"ANEEL portal unreachable, nothing launched: {error}")
    if not changed:
        return dg.SkipReason("; ".join(unchanged))
    hour = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%dT%H")
    reasons = {key.to_user_string(): reason for key, reason in changed.items()}
    context.log.info(f"changed: {reasons}")
    return dg.RunRequest(
        run_key=f"hourly-{hour}-{'-'.join(sorted(key.path[-1] for key in changed))}",
        partition_key=today_in_brazil().isoformat(),
        asset_selection=[DATASETS, *changed],
        tags={"ysh/refresh": "hourly"},
    )


def _latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> dg.AssetMaterialization | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    return records[0].asset_materialization if records else None


def loads_behind(instance: dg.DagsterInstance, raw_key: dg.AssetKey, loaded_key: dg.AssetKey, partitions) -> bool:
    """True when some partition of `loaded_key` was not loaded from the latest snapshot of `raw_key`: the
    snapshot's data version (its content sha256) against the input data version the load recorded."""
    latest = _latest_materialization(instance, raw_key)
    snapshot = latest.tags.get(DATA_VERSION_TAG) if latest else None
    if snapshot is None:
        return False
    input_tag, expected = get_input_data_version_tag(raw_key), _one_partition_input_version(snapshot)
    for partition in partitions.get_partition_keys():
        loaded = _latest_materialization(instance, loaded_key, partition)
        if loaded is None or loaded.tags.get(input_tag) != expected:
            return True
    return False


def _one_partition_input_version(data_version: str) -> str:
    """The input data version Dagster records for an input mapped to one upstream partition: the sha256 of
    that partition's data version (dagster's DataVersionCache); the unchanged-file test pins this rule."""
    return hashlib.sha256(data_version.encode()).hexdigest()


@dg.run_status_sensor(
    name="aneel_load_after_snapshot",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[aneel_snapshot_job],
    request_jobs=[aneel_generation_units_job, aneel_tariffs_job, aneel_tariffs_current_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def aneel_load_after_snapshot(context: dg.RunStatusSensorContext):
    """Step 2 of the chain: load what the snapshot run brought that is not loaded yet."""
    run_id = context.dagster_run.run_id
    requests = []
    for raw_key, loaded_key, job, partitions in (
        (GD_UNITS_RAW, GENERATION_UNITS, aneel_generation_units_job, UF_PARTITIONS),
        (TARIFFS_RAW, TARIFFS, aneel_tariffs_job, TARIFF_YEARS),
    ):
        if loads_behind(context.instance, raw_key, loaded_key, partitions):
            tags = {**full_range_tags(partitions), "ysh/after_run": run_id}
            requests.append(dg.RunRequest(run_key=f"{job.name}-{run_id}", job_name=job.name, tags=tags))
        else:
            context.log.info(f"{loaded_key.to_user_string()} already loaded from the latest snapshot: not reloaded")
    if not any(r.job_name == aneel_tariffs_job.name for r in requests):
        requests.append(
            dg.RunRequest(
                run_key=f"current-{run_id}", job_name=aneel_tariffs_current_job.name, tags={"ysh/after_run": run_id}
            )
        )
    return requests


@dg.run_status_sensor(
    name="aneel_current_after_tariffs",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[aneel_tariffs_job],
    request_job=aneel_tariffs_current_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def aneel_current_after_tariffs(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    """Step 3 of the chain: the tariffs in force today, after a tariffs load."""
    run_id = context.dagster_run.run_id
    return dg.RunRequest(run_key=f"current-{run_id}", tags={"ysh/after_run": run_id})


# Once any source was updated since the last request, none is being written any more and none failed a
# blocking check (a UF whose load failed `quarantine_share` gets no change log from it).
AFTER_SOURCES = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("after its sources")
# Every stored PDF again when the extractor's version (the asset's code version) moves, and never otherwise:
# new PDFs come through `new_pdf_sensor`, which adds their partitions.
REEXTRACT_ON_NEW_VERSION = (
    dg.AutomationCondition.code_version_changed().since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.in_progress()
).with_label("extractor version changed")
# The daily report (today's partition): at 07:00, an hour after the snapshot's deadline, once nothing upstream
# is still running.
AFTER_DAILY_CHAIN = (
    dg.AutomationCondition.in_latest_time_window()
    & dg.AutomationCondition.cron_tick_passed("0 7 * * *", TIMEZONE).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after the daily chain (07:00)")

CONDITIONS: dict[dg.AssetKey, dg.AutomationCondition] = {
    dg.AssetKey(["search", "vector_index"]): AFTER_SOURCES,
    dg.AssetKey(["datasheets", "enriched_pdfs"]): REEXTRACT_ON_NEW_VERSION,
    dg.AssetKey(["audit", "gd_changes"]): AFTER_SOURCES,
    dg.AssetKey(["ops", "daily_report"]): AFTER_DAILY_CHAIN,
}


def with_automation(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The spec with its condition from `CONDITIONS`; a condition given on the asset's own decorator is kept."""
    condition = spec.automation_condition or CONDITIONS.get(spec.key)
    return spec.replace_attributes(automation_condition=condition) if condition else spec


daily_chain_automation = dg.AutomationConditionSensorDefinition(
    "daily_chain_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    emit_backfills=True,
    description="Evaluates `CONDITIONS`: the index, re-extraction, the change log and the daily report.",
)


DAILY_SEQUENCE = (
    (aneel_snapshot_job, None),
    (aneel_generation_units_job, UF_PARTITIONS),
    (aneel_tariffs_job, TARIFF_YEARS),
    (aneel_tariffs_current_job, None),
)


def aneel_sequence_tags(day: date) -> list[tuple[str, dict[str, str]]]:
    """The ANEEL chain as (job name, run tags), in dependency order."""
    snapshot = {"dagster/partition": day.isoformat()}
    return [
        (job.name, snapshot if job is aneel_snapshot_job else full_range_tags(parts) if parts else {})
        for job, parts in DAILY_SEQUENCE
    ]


def catalog_sequence_tags(day: date) -> list[tuple[str, dict[str, str]]]:
    """The certification lists, then each distributor's catalog of the day (its links need the lists)."""
    certifications = [
        (catalog_certifications_job.name, {"dagster/partition": key})
        for key in EQUIPMENT_PARTITIONS.get_partition_keys()
    ]
    distributors = [
        (
            catalog_daily_job.name,
            {"dagster/partition": str(dg.MultiPartitionKey({"day": day.isoformat(), "distributor": d}))},
        )
        for d in DISTRIBUTORS
    ]
    return certifications + distributors


# The datasheet step of the chain is a sensor's evaluation, not a job run: `new_pdf_sensor` adds one partition
# per new PDF under incoming/ and asks for its `pdf_processing` run (`run_new_pdfs`; `ysh pdfs` on the command line).
NEW_PDFS = "new_pdf_sensor"

daily_report_job = dg.define_asset_job(
    "daily_report_job",
    selection=dg.AssetSelection.assets(DAILY_REPORT),
    description="The day's operations report (partition = the day), sent through the alert channels.",
)
# Beside `defs`: the report's job resolves only where the report asset is defined (the whole code location).
report_defs = dg.Definitions(jobs=[daily_report_job])


def after_sources_sequence_tags(day: date) -> list[tuple[str, dict[str, str]]]:
    """After the sources: the GD change log (what `daily_chain_automation` starts after a units load), the new
    datasheets, the index over the catalog and the datasheets, the day's report."""
    return [
        (audit_gd_changes_job.name, full_range_tags(UF_PARTITIONS)),
        (NEW_PDFS, {}),
        (search_index_job.name, {}),
        (daily_report_job.name, {"dagster/partition": day.isoformat()}),
    ]


def daily_sequence_tags(day: date | None = None) -> list[tuple[str, dict[str, str]]]:
    """The whole daily chain as (job name, run tags), in order: what CI and `ysh daily` execute one after another
    (the ANEEL chain, the catalog beside it: the two share no assets; then what follows both)."""
    day = day or today_in_brazil()
    return aneel_sequence_tags(day) + catalog_sequence_tags(day) + after_sources_sequence_tags(day)


def run_daily_sequence(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    sequence: list[tuple[str, dict[str, str]]] | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Executes the daily chain (or `sequence`) synchronously in this process, stopping at the first failed run."""
    results = []
    for job_name, tags in sequence if sequence is not None else daily_sequence_tags():
        if job_name == NEW_PDFS:
            step = run_new_pdfs(definitions, instance)
        else:
            step = [
                definitions.resolve_job_def(job_name).execute_in_process(
                    instance=instance, tags=tags, raise_on_error=False
                )
            ]
        results += step
        if not all(result.success for result in step):
            break
    return results


def run_new_pdfs(definitions: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.ExecuteInProcessResult]:
    """What the daemon does with `new_pdf_sensor`, once and in this process: evaluate it, add the partitions it
    asks for, and run `pdf_processing` for each PDF it found (the PDF step of `ysh daily`)."""
    sensor = definitions.resolve_sensor_def("new_pdf_sensor")
    with dg.build_sensor_context(
        instance=instance, resources={"object_store": definitions.resources["object_store"]}
    ) as context:
        evaluation = sensor(context)
    for request in evaluation.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    job = definitions.resolve_job_def("pdf_processing")
    return [
        job.execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags, raise_on_error=False
        )
        for request in evaluation.run_requests
    ]


defs = dg.Definitions(
    jobs=[aneel_snapshot_job, aneel_generation_units_job, aneel_tariffs_job, aneel_tariffs_current_job],
    schedules=[daily_full_ingestion, hourly_incremental],
    sensors=[aneel_load_after_snapshot, aneel_current_after_tariffs, daily_chain_automation],
)
