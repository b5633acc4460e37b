"""The daily report on a warehouse and an instance filled by real loads, checks and a portal outage, on both
warehouse engines, delivered to loopback webhook and SMTP receivers."""

import shutil
import time
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from ysh_assets.aneel.assets import (
    GD_UNITS_RAW,
    GENERATION_UNITS,
    SNAPSHOT_DAYS,
    gd_units_raw,
    tariffs_raw,
    today_in_brazil,
)
from ysh_assets.aneel.ckan import GD_UNITS_RESOURCE_ID, TARIFFS_RESOURCE_ID
from ysh_assets.aneel.ckan_server import CkanServer, gd_units_package, tariffs_package
from ysh_assets.aneel.portal import BUNDLED_GD_FILE, BUNDLED_TARIFFS_FILE, AneelPortal
from ysh_assets.catalog.assets import PRODUCTS
from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager
from ysh_assets.ops.alerts import AlertChannels
from ysh_assets.ops.report import GD_CHANGES, ReportFigures, daily_report, day_window, render_markdown
from ysh_assets.warehouse import row_counts
from ysh_assets.warehouse.sql import Warehouse
from ysh_assets_tests.conftest import free_port
from ysh_assets_tests.doubles.receivers import HttpReceiver, SmtpReceiver

INSPECTED = dg.AssetKey(["test", "inspected"])


class InspectedConfig(dg.Config):
    nulls: int = 0
    seconds: float = 0.0


@dg.asset(
    key=INSPECTED,
    partitions_def=SNAPSHOT_DAYS,
    check_specs=[
        dg.AssetCheckSpec("has_rows", asset=INSPECTED, partitions_def=SNAPSHOT_DAYS),
        dg.AssetCheckSpec("no_nulls", asset=INSPECTED, partitions_def=SNAPSHOT_DAYS),
    ],
)
def inspected(config: InspectedConfig):
    """An asset whose ERROR check fails when told to, taking as long as told."""
    time.sleep(config.seconds)
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="has_rows", passed=True)
    yield dg.AssetCheckResult(check_name="no_nulls", passed=config.nulls == 0, severity=dg.AssetCheckSeverity.ERROR)


@pytest.fixture(params=["postgres", "duckdb"])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "postgres":
        return Warehouse(dsn=request.getfixturevalue("empty_pg_dsn"))
    return Warehouse(duckdb_path=str(tmp_path / "warehouse.duckdb"))


@pytest.fixture
def receivers():
    with HttpReceiver() as webhook, SmtpReceiver() as smtp:
        yield webhook, smtp


def channels_to(webhook, smtp) -> AlertChannels:
    return AlertChannels(
        webhook_url=webhook.url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        email_to=["ops@example.com"],
        ui_url="http://dagster.test:3000",
        timeout_seconds=5,
    )


def _changes(*kinds: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity_id": [f"GD.{n}" for n in range(len(kinds))],
            "change_type": list(kinds),
            "old_values": [None if kind == "insert" else "{}" for kind in kinds],
            "new_values": [None if kind == "delete" else "{}" for kind in kinds],
        },
        schema={"entity_id": pl.String, "change_type": pl.String, "old_values": pl.String, "new_values": pl.String},
    )


def _rejected(*reasons: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"line_number": list(range(1, len(reasons) + 1)), "reason": list(reasons), "raw_record": ["x"] * len(reasons)}
    )


def fill_warehouse(warehouse: Warehouse, day: date) -> None:
    """Today's loads as the IO managers and gd_changes record them, plus rows the report must leave out."""
    warehouse.replace_changes(GD_CHANGES, "SP", "run-sp", _changes("insert", "insert", "insert", "update", "delete"))
    warehouse.replace_changes(GD_CHANGES, "RJ", "run-rj", _changes("update"))
    warehouse.replace_changes(dg.AssetKey(["audit", "other"]), "SP", "run-other", _changes("insert"))
    warehouse.replace_quarantine(
        GENERATION_UNITS, "SP", "run-q", "gd.csv", _rejected("invalid date", "invalid date", "invalid date", "no UF")
    )
    product_day = str(dg.MultiPartitionKey({"day": day.isoformat(), "distributor": "neosolar"}))
    with warehouse.quarantine_writer(PRODUCTS, "run-refused", "neosolar.csv") as sink:
        sink.write(_rejected("no price", "no price"), product_day)
    warehouse.reject_quarantine(PRODUCTS, "run-refused")
    with warehouse.quarantine_writer(PRODUCTS, "run-unfinished", "neosolar.csv") as sink:  # still staged: left out
        sink.write(_rejected("no price"), product_day)
    yesterday = day_window(day)[0] - timedelta(hours=1)
    with warehouse.engine.session() as session:
        row_counts.record(session, "aneel.generation_units", {"SP": 120, "RJ": 80}, "run-sp")
        row_counts.record(session, "products.products", {product_day: 7}, "run-p")
        session.execute(
            "INSERT INTO audit.change_log (changed_at, asset_key, partition_key, entity_id, change_type, run_id) "
            "VALUES (%s, 'audit/gd_changes', 'MG', 'GD.old', 'insert', 'run-yesterday')",
            (yesterday,),
        )
        session.execute(
            "INSERT INTO pipeline.quarantine (quarantined_at, asset_key, partition_key, reason, status) "
            "VALUES (%s, 'aneel/generation_units', 'MG', 'invalid date', 'accepted')",
            (yesterday,),
        )


def fill_instance(
    instance: dg.DagsterInstance, portal: CkanServer, mirror: CkanServer, objects: str, day: date
) -> None:
    """Check results over two partitions (one re-run), a raw snapshot kept through a download outage and one
    served by the mirror while the primary's download failed."""
    today, yesterday = day.isoformat(), (day - timedelta(days=1)).isoformat()
    for partition, nulls, seconds in [(today, 3, 0.0), (yesterday, 2, 0.0), (today, 0, 1.0)]:
        result = dg.materialize(
            [inspected],
            instance=instance,
            partition_key=partition,
            run_config={"ops": {"test__inspected": {"config": {"nulls": nulls, "seconds": seconds}}}},
        )
        assert result.success
    resources = {
        "aneel_portal": AneelPortal(
            base_url=portal.base_url,
            mirrors=[mirror.base_url],
            max_attempts=2,
            backoff_base_seconds=0.01,
            timeout_seconds=5,
        ),
        "object_store_io_manager": ObjectStoreIOManager(store=ObjectStore(root=objects)),
    }
    assert dg.materialize([gd_units_raw], instance=instance, partition_key=today, resources=resources).success
    portal.fail_next(portal.download_path(GD_UNITS_RESOURCE_ID), times=50, status=503)
    mirror.fail_next(mirror.download_path(GD_UNITS_RESOURCE_ID), times=50, status=503)
    assert dg.materialize([gd_units_raw], instance=instance, partition_key=today, resources=resources).success
    portal.fail_next(portal.download_path(TARIFFS_RESOURCE_ID), times=50, status=503)
    assert dg.materialize([tariffs_raw], instance=instance, partition_key=today, resources=resources).success


def _served(tmp_path, name: str) -> list:
    """The tracked packages, served from copies of the bundled files under `tmp_path / name`."""
    folder = tmp_path / name
    folder.mkdir()
    gd, tariffs = shutil.copy(BUNDLED_GD_FILE, folder), shutil.copy(BUNDLED_TARIFFS_FILE, folder)
    return [gd_units_package(gd), tariffs_package(tariffs)]


@pytest.fixture
def portal(tmp_path):
    with CkanServer(_served(tmp_path, "primary")) as server:
        yield server


@pytest.fixture
def mirror(tmp_path):
    with CkanServer(_served(tmp_path, "mirror")) as server:
        yield server


def report_metadata(result) -> dict:
    [event] = result.get_asset_materialization_events()
    return {name: value.value for name, value in event.materialization.metadata.items()}


def test_the_report_counts_the_day_and_reaches_every_channel(warehouse, portal, mirror, receivers, tmp_path):
    webhook, smtp = receivers
    day = today_in_brazil()
    fill_warehouse(warehouse, day)
    with dg.instance_for_test() as instance:
        fill_instance(instance, portal, mirror, (tmp_path / "objects").as_uri(), day)
        result = dg.materialize(
            [daily_report],
            instance=instance,
            partition_key=day.isoformat(),
            resources={"warehouse": warehouse, "alert_channels": channels_to(webhook, smtp)},
        )
        assert result.success
        first = instance.fetch_materializations(GD_UNITS_RAW, limit=2).records[1].asset_materialization.metadata

    meta = report_metadata(result)
    assert {k: v for k, v in meta.items() if k not in ("report", "deliveries")} == {
        "runs": 6,
        "tables": 3,
        "rows_total": 207,
        "changes_inserted": 3,
        "changes_updated": 2,
        "changes_deleted": 1,
        "quarantined_rows": 6,
        "checks_passed": 3,
        "checks_failed": 1,
        "stale_sources": 1,
        "failovers": 1,
    }
    assert meta["deliveries"] == {"webhook": "ok", "email": "ok"}
    report = meta["report"]
    for line in [
        "| aneel.generation_units | 200 | 2 |",
        "| aneel.tariffs_current | 0 | — |",
        "| products.products | 7 | 1 |",
        "| RJ | 0 | 1 | 0 |",
        "| SP | 3 | 1 | 1 |",
        "| **total** | 3 | 2 | 1 |",
        "| aneel/generation_units | invalid date | accepted | 3 |",
        "| catalog/products | no price | rejected | 2 |",
        "| aneel/generation_units | no UF | accepted | 1 |",
        "| test/inspected | has_rows | 2 | 0 |",
        "| test/inspected | no_nulls | 1 | 1 |",
        f"| test/inspected | no_nulls | {(day - timedelta(days=1)).isoformat()} | ERROR |",
        f"| aneel/gd_units_raw | {day.isoformat()} | last_good_snapshot | {first['source_checked_at'].value} |",
        f"| aneel/tariffs_raw | {day.isoformat()} | aneel_mirror:{mirror.base_url.removeprefix('http://')} | — |  |",
    ]:
        assert line in report, line
    assert "MG" not in report  # yesterday's change and quarantine row
    steps = report.split("## Slowest steps")[1].strip().splitlines()[2:]
    assert len(steps) == 6
    assert steps[0].startswith("| __ephemeral_asset_job__ | test__inspected | 1.")

    [body] = webhook.bodies()
    assert "YSH daily report" in body["text"] and day.isoformat() in body["text"]
    assert "| SP | 3 | 1 | 1 |" in "".join(block["text"]["text"] for block in body["blocks"][3:])
    [mail] = smtp.messages
    assert mail.recipients == ["ops@example.com"]
    message = mail.message
    assert message["Subject"] == f"[YSH report] YSH daily report {day.isoformat()}"
    assert "| catalog/products | no price | rejected | 2 |" in message.get_content()
    assert f"http://dagster.test:3000/runs/{result.run_id}" in message.get_content()


def test_an_unreachable_channel_is_recorded_and_the_report_still_materializes(warehouse, receivers):
    webhook, _ = receivers
    channels = AlertChannels(
        webhook_url=webhook.url, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False,
        email_to=["ops@example.com"], timeout_seconds=2,
    )  # fmt: skip
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [daily_report],
            instance=instance,
            partition_key=today_in_brazil().isoformat(),
            resources={"warehouse": warehouse, "alert_channels": channels},
        )
    assert result.success
    meta = report_metadata(result)
    assert meta["deliveries"]["webhook"] == "ok"
    assert meta["deliveries"]["email"].startswith("error: ConnectionRefusedError")
    assert meta["runs"] == 0 and meta["checks_failed"] == 0 and meta["rows_total"] == 0
    assert "_No changes logged by audit/gd_changes today._" in meta["report"]
    assert len(webhook.bodies()) == 1


def test_an_empty_day_renders_every_section():
    empty = ReportFigures(date(2026, 12, 1), [], [], [], [], [], [], [], runs=0)
    markdown = render_markdown(empty)
    assert markdown.splitlines()[0] == "# YSH daily report, 2026-12-01 (America/Sao_Paulo)"
    for line in [
        "_No table loaded yet._",
        "_No changes logged by audit/gd_changes today._",
        "_Nothing quarantined today._",
        "_No check ran today._",
        "_Every source answered from its primary today._",
        "_No step ran today._",
    ]:
        assert line in markdown
    assert "### Failed checks" not in markdown
