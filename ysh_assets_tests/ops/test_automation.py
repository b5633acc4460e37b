"""The declarative half of the daily chain, evaluated tick by tick against a real instance: the index after its
sources, re-extraction when the extractor's version moves (and only then), the report after the chain."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,
)
from dagster._core.definitions.automation_tick_evaluation_context import (
    build_run_requests,
    build_run_requests_with_backfill_policies,
)

from ysh_assets.aneel.assets import GENERATION_UNITS, UF_PARTITIONS
from ysh_assets.audit.assets import GD_CHANGES
from ysh_assets.calendar import TIMEZONE
from ysh_assets.datasheets.assets import ENRICHED_PDFS, PDF_DOCUMENTS
from ysh_assets.datasheets.extract import EXTRACTOR_VERSION
from ysh_assets.datasheets.sensors import PDF_PARTITIONS
from ysh_assets.definitions import defs
from ysh_assets.ops import report
from ysh_assets.search.assets import VECTOR_INDEX

PRODUCTS = dg.AssetKey(["catalog", "products"])
TARIFFS = dg.AssetKey(["aneel", "tariffs"])


def test_the_automation_sensor_runs_by_default_over_every_asset_with_a_condition():
    sensor = defs.resolve_sensor_def("daily_chain_automation")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.emit_backfills  # a tick's partitions of one asset become one backfill, under its policy
    graph = defs.resolve_asset_graph()
    with_condition = {k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None}
    assert {VECTOR_INDEX, ENRICHED_PDFS, report.DAILY_REPORT} <= with_condition
    assert with_condition <= sensor.asset_selection.resolve(graph)
    assert graph.get(ENRICHED_PDFS).code_version == EXTRACTOR_VERSION


def _materialize(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def test_the_index_follows_an_update_of_its_sources_once():
    only_index = dg.AssetSelection.assets(VECTOR_INDEX)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, only_index)
        assert first.total_requested == 0
        _materialize(instance, TARIFFS, "2026")  # not a source of the index
        unrelated = dg.evaluate_automation_conditions(defs, instance, only_index, cursor=first.cursor)
        assert unrelated.total_requested == 0
        _materialize(instance, PRODUCTS, "2026-12-01|fotus")
        after_products = dg.evaluate_automation_conditions(defs, instance, only_index, cursor=unrelated.cursor)
        assert after_products.get_requested_partitions(VECTOR_INDEX) == {None}
        handled = dg.evaluate_automation_conditions(defs, instance, only_index, cursor=after_products.cursor)
        assert handled.total_requested == 0


def _with_extractor_version(version: str) -> dg.Definitions:
    return defs.map_asset_specs(
        func=lambda spec: spec.replace_attributes(code_version=version) if spec.key == ENRICHED_PDFS else spec
    )


def test_a_new_extractor_version_re_extracts_every_stored_pdf_and_nothing_else():
    datasheets = dg.AssetSelection.assets(PDF_DOCUMENTS, ENRICHED_PDFS)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PDF_PARTITIONS.name, ["sha-a", "sha-b", "sha-c"])
        for sha in ("sha-a", "sha-b"):
            _materialize(instance, PDF_DOCUMENTS, sha)
            _materialize(instance, ENRICHED_PDFS, sha)
        same = dg.evaluate_automation_conditions(defs, instance, datasheets)
        assert same.total_requested == 0
        same = dg.evaluate_automation_conditions(defs, instance, datasheets, cursor=same.cursor)
        assert same.total_requested == 0
        bumped = _with_extractor_version(f"{EXTRACTOR_VERSION}-next")
        changed = dg.evaluate_automation_conditions(bumped, instance, datasheets, cursor=same.cursor)
        # sha-c was never stored (no pdf_documents): nothing to re-extract it from
        assert changed.get_requested_partitions(ENRICHED_PDFS) == {"sha-a", "sha-b"}
        assert changed.get_requested_partitions(PDF_DOCUMENTS) == set()
        again = dg.evaluate_automation_conditions(bumped, instance, datasheets, cursor=changed.cursor)
        assert again.total_requested == 0


def test_the_daily_report_waits_for_seven_oclock_and_runs_once_for_today():
    only_report = dg.AssetSelection.assets(report.DAILY_REPORT)
    day = datetime(2026, 12, 1, tzinfo=ZoneInfo(TIMEZONE))
    with dg.instance_for_test() as instance:
        tick = None
        for hour in (5, 6):
            result = dg.evaluate_automation_conditions(
                defs, instance, only_report, evaluation_time=day + timedelta(hours=hour, minutes=59), cursor=tick
            )
            assert result.total_requested == 0
            tick = result.cursor
        seven = dg.evaluate_automation_conditions(
            defs, instance, only_report, evaluation_time=day + timedelta(hours=7, minutes=1), cursor=tick
        )
        assert seven.get_requested_partitions(report.DAILY_REPORT) == {"2026-12-01"}
        later = dg.evaluate_automation_conditions(
            defs, instance, only_report, evaluation_time=day + timedelta(hours=7, minutes=2), cursor=seven.cursor
        )
        assert later.total_requested == 0


@pytest.mark.parametrize(("refused", "expected_ranges"), [(None, [("AC", "TO")]), ("RR", [("AC", "RO"), ("RS", "TO")])])
def test_a_load_of_the_27_ufs_is_followed_by_one_change_log_run_per_range(refused, expected_ranges):
    """`audit/gd_changes` (UF partitions, single-run policy) after its sources: the automation sensor's tick turns
    the requested partitions into one backfill (`emit_backfills`), which the backfill daemon runs as one run per
    contiguous range: ONE run for the 27 UFs, or two around a UF whose load failed its blocking check."""
    graph = defs.resolve_asset_graph()
    only_changes = dg.AssetSelection.assets(GD_CHANGES)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs, instance, only_changes)
        assert first.total_requested == 0
        every = UF_PARTITIONS.get_partition_keys()
        for uf in every:
            _materialize(instance, GENERATION_UNITS, uf)
            # the load's blocking check, evaluated per UF against that materialization
            loaded = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=GENERATION_UNITS, asset_partitions=[uf]), limit=1
            ).records[0]
            target = TargetMaterialization(
                storage_id=loaded.storage_id, run_id=loaded.run_id, timestamp=loaded.timestamp
            )
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    GENERATION_UNITS,
                    "quarantine_share",
                    passed=uf != refused,
                    partition=uf,
                    target_materialization_data=target,
                )
            )
        after_load = dg.evaluate_automation_conditions(defs, instance, only_changes, cursor=first.cursor)
        assert after_load.get_requested_partitions(GD_CHANGES) == set(every) - {refused}
        subsets = [r.true_subset for r in after_load.results if not r.true_subset.is_empty]
        (backfill,) = build_run_requests(subsets, graph, run_tags={}, emit_backfills=True)
        assert backfill.requires_backfill_daemon()
        planned = build_run_requests_with_backfill_policies(
            list(backfill.asset_graph_subset.iterate_asset_partitions()), graph, instance
        )
        ranges = [
            (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in planned
        ]
        assert ranges == expected_ranges
        assert all(list(r.asset_selection) == [GD_CHANGES] for r in planned)
