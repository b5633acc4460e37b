"""Alert channels against real loopback receivers, and the three alert sensors over a real Dagster instance."""

import json
import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from ysh_assets.ops.alert_sensors import alert_on_check_failure, alert_on_run_failure, alert_on_stale_assets
from ysh_assets.ops.alerts import Alert, AlertChannels, Delivery, alert_channels_for
from ysh_assets.settings import ConfigurationError, Settings
from ysh_assets_tests.conftest import free_port
from ysh_assets_tests.doubles.receivers import HttpReceiver, SmtpReceiver

# The loopback SMTP receiver offers AUTH without TLS on purpose; aiosmtpd warns on each connection.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

UI = "http://dagster.example:3000"
PASSWORD = "pw-Zq81-never-shown"
UFS = dg.StaticPartitionsDefinition(["SP", "RJ"])


@pytest.fixture
def hook():
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp():
    with SmtpReceiver(credentials=("alerts", PASSWORD)) as receiver:
        yield receiver


def both_channels(hook: HttpReceiver, smtp: SmtpReceiver) -> AlertChannels:
    return AlertChannels(
        webhook_url=hook.url,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_user="alerts",
        smtp_password=PASSWORD,
        smtp_starttls=False,  # the loopback receiver has no certificate
        email_from="ysh-alerts@ysh.example",
        email_to=["ops@ysh.example", "data@ysh.example"],
        ui_url=UI,
        timeout_seconds=5,
    )


FAILURE = Alert(
    kind="run_failure",
    title="Run of aneel_snapshot_job failed",
    reason="aneel__gd_units_raw: Failure: the portal answered 503",
    asset="aneel/gd_units_raw",
    partition="2026-12-01",
    run_id="4f1c2a9e-0000-4000-8000-000000000001",
)


def test_webhook_posts_a_slack_compatible_body_with_link_asset_partition_and_reason(hook):
    channels = AlertChannels(webhook_url=hook.url, ui_url=UI)
    assert channels.send(FAILURE) == [Delivery("webhook", ok=True)]
    [request] = hook.requests
    assert request.headers["Content-Type"] == "application/json"
    body = request.body
    assert set(body) == {"text", "blocks"}
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": FAILURE.title}}
    assert all(block["type"] in {"header", "section"} for block in body["blocks"])
    link = f"{UI}/runs/{FAILURE.run_id}"
    for wanted in (link, "aneel/gd_units_raw", "2026-12-01", "the portal answered 503"):
        assert wanted in body["text"], wanted
    fields = next(block["fields"] for block in body["blocks"] if "fields" in block)
    assert {"type": "mrkdwn", "text": "*Partition*\n2026-12-01"} in fields
    assert any(f"<{link}|" in block.get("text", {}).get("text", "") for block in body["blocks"])


def test_email_carries_headers_and_a_body_with_link_asset_partition_and_reason(smtp):
    channels = AlertChannels(
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_user="alerts",
        smtp_password=PASSWORD,
        smtp_starttls=False,
        email_from="ysh-alerts@ysh.example",
        email_to=["ops@ysh.example", "data@ysh.example"],
        ui_url=UI,
    )
    assert channels.send(FAILURE) == [Delivery("email", ok=True)]
    [mail] = smtp.messages
    assert mail.login == "alerts"
    assert mail.sender == "ysh-alerts@ysh.example"
    assert mail.recipients == ["ops@ysh.example", "data@ysh.example"]
    message = mail.message
    assert message["Subject"] == f"[YSH run_failure] {FAILURE.title}"
    assert message["From"] == "ysh-alerts@ysh.example"
    assert message["To"] == "ops@ysh.example, data@ysh.example"
    assert message["Date"] and message["Message-ID"].endswith("@ysh.example>")
    body = message.get_content()
    for wanted in (
        f"Link: {UI}/runs/{FAILURE.run_id}",
        "Asset: aneel/gd_units_raw",
        "Partition: 2026-12-01",
        FAILURE.reason,
    ):
        assert wanted in body, wanted


def test_email_logs_in_only_when_user_and_password_are_set():
    with SmtpReceiver() as open_relay:  # offers no AUTH: a login attempt would fail the delivery
        channels = AlertChannels(
            smtp_host=open_relay.host, smtp_port=open_relay.port, smtp_user="alerts", smtp_starttls=False,
            email_to=["ops@ysh.example"],
        )  # fmt: skip
        assert channels.send(FAILURE) == [Delivery("email", ok=True)]
        assert [mail.login for mail in open_relay.messages] == [None]


def test_starttls_asked_of_a_server_without_it_fails_instead_of_sending_in_clear(caplog):
    with SmtpReceiver() as plain:
        channels = AlertChannels(smtp_host=plain.host, smtp_port=plain.port, email_to=["ops@ysh.example"])
        [delivery] = channels.send(FAILURE)
        assert not delivery.ok and "STARTTLS" in delivery.error
        assert plain.messages == []


def test_both_channels_deliver_a_long_report_at_once(hook, smtp):
    markdown = "# Daily report\n\n" + "\n".join(
        f"| aneel.generation_units | UF {i:02d} | {i * 1000} |" for i in range(200)
    )
    report = Alert(kind="report", title="Daily report 2026-12-01", markdown=markdown)
    assert both_channels(hook, smtp).send(report) == [Delivery("webhook", ok=True), Delivery("email", ok=True)]
    [body] = hook.bodies()
    sections = [block["text"]["text"] for block in body["blocks"] if block["type"] == "section"]
    assert len(sections) > 1 and all(len(text) <= 3000 for text in sections)
    assert "".join(sections) == markdown  # split at Slack's section size, nothing lost
    assert body["text"].startswith("Daily report 2026-12-01\n\n# Daily report") and body["text"].endswith(markdown)
    [mail] = smtp.messages
    assert markdown in mail.message.get_content().replace("\r\n", "\n")


def test_unreachable_channels_are_logged_and_never_raise(caplog):
    closed = free_port()  # nothing listens there
    channels = AlertChannels(
        webhook_url=f"http://127.0.0.1:{closed}/hook", smtp_host="127.0.0.1", smtp_port=closed, smtp_starttls=False,
        email_to=["ops@ysh.example"], timeout_seconds=2,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="ysh_assets.ops.alerts"):
        deliveries = channels.send(FAILURE)
    assert [(d.channel, d.ok) for d in deliveries] == [("webhook", False), ("email", False)]
    assert all("refused" in d.error.lower() for d in deliveries), deliveries
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert f"webhook (http://127.0.0.1:{closed})" in warnings[0] and f"smtp://127.0.0.1:{closed}" in warnings[1]


def test_a_webhook_answering_500_is_recorded_not_raised(caplog):
    with HttpReceiver(status=500) as failing:
        [delivery] = AlertChannels(webhook_url=failing.url).send(FAILURE)
        assert len(failing.requests) == 1
    assert delivery == Delivery("webhook", ok=False, error="RuntimeError: HTTP 500: internal_error")
    assert any("HTTP 500" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_secrets_never_reach_logs_deliveries_or_dagster_config(caplog, monkeypatch):
    with HttpReceiver(status=500) as failing, SmtpReceiver(credentials=("alerts", "the-right-one")) as smtp:
        env = {
            "YSH_ALERT_WEBHOOK_URL": failing.url,  # its path is the token
            "YSH_SMTP_HOST": smtp.host,
            "YSH_SMTP_PORT": str(smtp.port),
            "YSH_SMTP_USER": "alerts",
            "YSH_SMTP_PASSWORD": PASSWORD,  # refused by the server: the error path must not show it either
            "YSH_SMTP_STARTTLS": "false",
            "YSH_ALERT_EMAIL_TO": "ops@ysh.example",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        channels = alert_channels_for(Settings.from_env())
        # Dagster holds the variables' names, so the UI's resource config never shows the values.
        assert isinstance(channels.webhook_url, dg.EnvVar) and channels.webhook_url == "YSH_ALERT_WEBHOOK_URL"
        assert isinstance(channels.smtp_password, dg.EnvVar) and channels.smtp_password == "YSH_SMTP_PASSWORD"
        with caplog.at_level(logging.DEBUG), dg.instance_for_test() as instance:
            result = dg.materialize([_fails], instance=instance, partition_key="SP", raise_on_error=False)
            context = dg.build_run_status_sensor_context(
                sensor_name="alert_on_run_failure",
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                dagster_event=result.get_run_failure_event(),
                resources={"alert_channels": channels},
            )
            alert_on_run_failure(context)
        assert len(failing.requests) == 1 and smtp.messages == []  # both tried, both refused
    logged = caplog.text
    assert "not delivered through webhook" in logged and "not delivered through email" in logged
    for secret in (PASSWORD, "/hooks/T000/B000/token"):
        assert secret not in logged
        assert secret not in repr(Settings.from_env())


def test_a_secret_with_a_trailing_newline_still_reaches_dagster_only_by_name(hook, monkeypatch):
    """Values read from files (Docker/Kubernetes secrets) often end in a newline."""
    monkeypatch.setenv("YSH_ALERT_WEBHOOK_URL", f"{hook.url}\n")
    monkeypatch.setenv("YSH_SMTP_PASSWORD", f"{PASSWORD}\n")
    channels = alert_channels_for(Settings.from_env())
    assert isinstance(channels.webhook_url, dg.EnvVar) and channels.webhook_url == "YSH_ALERT_WEBHOOK_URL"
    assert isinstance(channels.smtp_password, dg.EnvVar) and channels.smtp_password == "YSH_SMTP_PASSWORD"
    resolved = AlertChannels(webhook_url=channels.webhook_url.get_value(), ui_url=UI)
    assert [delivery.ok for delivery in resolved.send(FAILURE)] == [True]
    assert len(hook.bodies()) == 1


def test_no_channel_configured_sends_nothing_and_says_so_once(caplog):
    channels = AlertChannels()
    with caplog.at_level(logging.INFO, logger="ysh_assets.ops.alerts"):
        assert channels.send(FAILURE) == [] and channels.send(FAILURE) == []
    assert [r.getMessage() for r in caplog.records].count(
        "no alert channel configured (YSH_ALERT_WEBHOOK_URL, YSH_SMTP_HOST): alerts are not sent"
    ) == 1


def test_alert_settings_are_parsed_and_bad_ones_refused():
    settings = Settings.from_env(
        {"YSH_SMTP_HOST": "smtp.example", "YSH_ALERT_EMAIL_TO": " ops@a.example , b@a.example,",
         "YSH_SMTP_PORT": "2525", "YSH_SMTP_STARTTLS": "False", "YSH_DAGSTER_UI_URL": "https://dagster.ysh.example/"}
    )  # fmt: skip
    assert settings.alert_email_to == ("ops@a.example", "b@a.example")
    assert (settings.smtp_port, settings.smtp_starttls) == (2525, False)
    assert settings.dagster_ui_url == "https://dagster.ysh.example"
    defaults = Settings.from_env({})
    assert (defaults.smtp_host, defaults.alert_webhook_url, defaults.smtp_port, defaults.smtp_starttls) == (
        "",
        "",
        587,
        True,
    )
    for bad, name in (
        ({"YSH_SMTP_HOST": "smtp.example"}, "YSH_ALERT_EMAIL_TO"),
        ({"YSH_SMTP_PORT": "smtp"}, "YSH_SMTP_PORT"),
        ({"YSH_SMTP_STARTTLS": "maybe"}, "YSH_SMTP_STARTTLS"),
    ):
        with pytest.raises(ConfigurationError, match=name):
            Settings.from_env(bad)


# --- the sensors, over a real instance and real runs ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request):
    """Both instance storages the project runs on: run-sharded SQLite (local) and PostgreSQL (deploy/)."""
    if request.param == "sqlite":
        with dg.instance_for_test() as sqlite_instance:
            yield sqlite_instance
        return
    info = psycopg.conninfo.conninfo_to_dict(request.getfixturevalue("empty_pg_dsn"))
    url = (
        f"postgresql+psycopg2://{info.get('user', 'postgres')}@{info['host']}:{info.get('port', 5432)}/{info['dbname']}"
    )
    with dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": url}}}) as postgres_instance:
        yield postgres_instance


@dg.asset(key=["aneel", "gd_units_raw"], partitions_def=UFS)
def _fails() -> None:
    raise ValueError("the portal answered 503 for the GD file")


def test_run_failure_sensor_alerts_both_channels_with_the_asset_and_run_link(hook, smtp):
    with dg.instance_for_test() as instance:
        result = dg.materialize([_fails], instance=instance, partition_key="SP", raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"alert_channels": both_channels(hook, smtp)},
        )
        alert_on_run_failure(context)
    link = f"{UI}/runs/{result.run_id}"
    [body] = hook.bodies()
    for wanted in (link, "aneel/gd_units_raw", "Partition: SP", "the portal answered 503 for the GD file"):
        assert wanted in body["text"], wanted
    [mail] = smtp.messages
    assert mail.message["Subject"] == f"[YSH run_failure] Run of {result.dagster_run.job_name} failed"
    content = mail.message.get_content()
    assert f"Link: {link}" in content and "Asset: aneel/gd_units_raw" in content
    assert "ValueError: the portal answered 503 for the GD file" in content


@dg.asset(
    key=["catalog", "products"],
    partitions_def=UFS,
    check_specs=[
        dg.AssetCheckSpec("max_quarantine_share", asset=["catalog", "products"], partitions_def=UFS),
        dg.AssetCheckSpec("price_outliers", asset=["catalog", "products"]),
        dg.AssetCheckSpec("rows_present", asset=["catalog", "products"]),  # not partitioned: the run's partition
    ],
)
def _checked(context: dg.AssetExecutionContext):
    share = 0.4 if context.partition_key == "RJ" else 0.0
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(
        check_name="max_quarantine_share", passed=share <= 0.05, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"quarantine_share": share},
    )  # fmt: skip
    yield dg.AssetCheckResult(check_name="price_outliers", passed=False, severity=dg.AssetCheckSeverity.WARN)
    yield dg.AssetCheckResult(check_name="rows_present", passed=context.partition_key != "SP")


_GATE = threading.Event()


@dg.asset(
    key=["catalog", "solar_kits"],
    partitions_def=UFS,
    check_specs=[dg.AssetCheckSpec("components_known", asset=["catalog", "solar_kits"], partitions_def=UFS)],
)
def _slow_kits():
    """Holds its run open (its check planned, not evaluated) until the test opens the gate."""
    assert _GATE.wait(timeout=60)
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="components_known", passed=False, metadata={"unknown_components": 3})


checked_defs = dg.Definitions(assets=[_checked, _slow_kits])


def test_check_failure_sensor_alerts_once_per_failed_error_check_with_its_partition(hook, instance):
    channels = AlertChannels(webhook_url=hook.url, ui_url=UI)

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=checked_defs, resources={"alert_channels": channels}
        )
        return alert_on_check_failure(context)

    dg.materialize([_checked], instance=instance, partition_key="RJ")  # before the sensor: not replayed
    first = tick(None)
    assert hook.bodies() == []
    for uf in ("SP", "RJ"):
        dg.materialize([_checked], instance=instance, partition_key=uf)
    second = tick(first.cursor)
    assert json.loads(second.cursor)["after"] > json.loads(first.cursor)["after"]
    assert tick(second.cursor).skip_reason is not None  # re-evaluated: nothing new, nothing sent again
    sp_run, rj_run = (run.run_id for run in reversed(instance.get_runs(limit=2)))
    share, rows = sorted(hook.bodies(), key=lambda body: body["text"])  # the WARN check does not alert
    assert share["blocks"][0]["text"]["text"] == "Check max_quarantine_share failed on catalog/products"
    for wanted in ("catalog/products", "Partition: RJ", "quarantine_share=0.4", f"{UI}/runs/{rj_run}"):
        assert wanted in share["text"], wanted
    assert rows["blocks"][0]["text"]["text"] == "Check rows_present failed on catalog/products"
    assert "Partition: SP" in rows["text"] and f"{UI}/runs/{sp_run}" in rows["text"]


def test_check_failure_sensor_waits_for_checks_still_running_when_later_ones_finish(hook, instance):
    """A check keeps the id it got when planned: a run that finishes after a later one must still alert."""
    channels = AlertChannels(webhook_url=hook.url, ui_url=UI)

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=checked_defs, resources={"alert_channels": channels}
        )
        return alert_on_check_failure(context)

    def planned() -> bool:
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(["catalog", "solar_kits"]), "components_known"), limit=1
        )
        return bool(history) and history[0].status.value == "PLANNED"

    cursor = tick(None).cursor
    _GATE.clear()
    slow = threading.Thread(
        target=dg.materialize, args=([_slow_kits],), kwargs={"instance": instance, "partition_key": "RJ"}
    )
    slow.start()
    try:
        deadline = time.monotonic() + 30
        while not planned():
            assert time.monotonic() < deadline, "the slow run never planned its check"
            time.sleep(0.05)
        dg.materialize([_checked], instance=instance, partition_key="SP")  # finishes first, with higher ids
        cursor = tick(cursor).cursor
        assert [body["blocks"][0]["text"]["text"] for body in hook.bodies()] == [
            "Check rows_present failed on catalog/products"
        ]
    finally:
        _GATE.set()
        slow.join(timeout=60)
    cursor = tick(cursor).cursor
    tick(cursor)
    assert [body["blocks"][0]["text"]["text"] for body in hook.bodies()] == [
        "Check rows_present failed on catalog/products",
        "Check components_known failed on catalog/solar_kits",
    ]
    assert "Partition: RJ" in hook.bodies()[1]["text"] and "unknown_components=3" in hook.bodies()[1]["text"]


def test_check_failure_sensor_first_tick_keeps_watching_checks_then_planned(hook, instance):
    """Turned on while a run is under way: the check it planned before the first tick still alerts when it
    fails, while what finished before that tick (even with higher ids) is not replayed."""
    channels = AlertChannels(webhook_url=hook.url, ui_url=UI)

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, definitions=checked_defs, resources={"alert_channels": channels}
        )
        return alert_on_check_failure(context)

    kits_check = dg.AssetCheckKey(dg.AssetKey(["catalog", "solar_kits"]), "components_known")
    _GATE.clear()
    slow = threading.Thread(
        target=dg.materialize, args=([_slow_kits],), kwargs={"instance": instance, "partition_key": "RJ"}
    )
    slow.start()
    try:
        deadline = time.monotonic() + 30
        while not [r for r in instance.event_log_storage.get_asset_check_execution_history(kits_check, limit=1)
                   if r.status.value == "PLANNED"]:  # fmt: skip
            assert time.monotonic() < deadline, "the slow run never planned its check"
            time.sleep(0.05)
        dg.materialize([_checked], instance=instance, partition_key="SP")  # failed before the sensor started
        cursor = tick(None).cursor
    finally:
        _GATE.set()
        slow.join(timeout=60)
    cursor = tick(cursor).cursor
    tick(cursor)
    assert _titles(hook) == ["Check components_known failed on catalog/solar_kits"]


_TIGHT = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=30))


@dg.asset(key=["aneel", "tariffs"], freshness_policy=_TIGHT)
def _tariffs() -> None:
    return None


@dg.asset(key=["search", "vector_index"], freshness_policy=_TIGHT)
def _never_built() -> None:
    return None


freshness_defs = dg.Definitions(assets=[_tariffs, _never_built])


def _materialized_at(instance: dg.DagsterInstance, key: dg.AssetKey, timestamp: float) -> None:
    """A materialization recorded at `timestamp`, as a run that far back would have left it."""
    instance.store_event(
        EventLogEntry(
            error_info=None,
            level=logging.INFO,
            user_message="",
            run_id=RUNLESS_RUN_ID,
            timestamp=timestamp,
            dagster_event=DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name=RUNLESS_JOB_NAME,
                event_specific_data=StepMaterializationData(dg.AssetMaterialization(asset_key=key)),
            ),
        )
    )


@contextmanager
def _freshness_watch(instance: dg.DagsterInstance, channels: AlertChannels):
    """(evaluate, tick): one iteration of Dagster's own freshness daemon, and one tick of the stale sensor."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            module_name=__name__, attribute="freshness_defs", working_directory=str(Path(__file__).parents[2])
        ),
        location_name="alerts_test",
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace:

        def evaluate_freshness() -> None:
            list(FreshnessDaemon().run_iteration(workspace))

        def tick(cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, definitions=freshness_defs, resources={"alert_channels": channels}
            )
            return alert_on_stale_assets(context)

        yield evaluate_freshness, tick


def _titles(hook: HttpReceiver) -> list[str]:
    return [body["blocks"][0]["text"]["text"] for body in hook.bodies()]


def test_stale_sensor_alerts_once_when_dagster_marks_an_asset_failed_and_notes_recovery(hook, smtp, instance):
    tariffs = dg.AssetKey(["aneel", "tariffs"])
    with _freshness_watch(instance, both_channels(hook, smtp)) as (evaluate_freshness, tick):
        first = tick(None)  # watching before the violation
        _materialized_at(instance, tariffs, time.time() - 2 * 3600)  # two hours ago, the window is 30 minutes
        evaluate_freshness()
        states = instance.get_freshness_state_records([tariffs, dg.AssetKey(["search", "vector_index"])])
        assert {k.to_user_string(): r.freshness_state for k, r in states.items()} == {
            "aneel/tariffs": FreshnessState.FAIL,
            "search/vector_index": FreshnessState.UNKNOWN,  # never materialized: Dagster cannot tell, no alert
        }
        second = tick(first.cursor)  # the new violation alerts
        evaluate_freshness()  # still failing: no new state change
        third = tick(second.cursor)
        assert third.skip_reason is not None
        [stale] = hook.bodies()
        assert stale["blocks"][0]["text"]["text"] == "aneel/tariffs is stale"
        assert "Freshness FAIL: last materialized" in stale["text"] and "0:30:00" in stale["text"]
        assert [m.message["Subject"] for m in smtp.messages] == ["[YSH freshness] aneel/tariffs is stale"]

        dg.materialize([_tariffs], instance=instance)  # fresh again
        evaluate_freshness()
        fourth = tick(third.cursor)
        tick(fourth.cursor)
    assert _titles(hook) == ["aneel/tariffs is stale", "aneel/tariffs is fresh again"]
    assert '"failing": []' in fourth.cursor


def test_stale_sensor_first_tick_replays_no_history_and_starts_from_the_current_states(hook, instance):
    """A sensor turned on (or reset) after violations does not re-send them: it takes the assets failing now
    as already known, and still notes their recovery."""
    tariffs = dg.AssetKey(["aneel", "tariffs"])
    with _freshness_watch(instance, AlertChannels(webhook_url=hook.url, ui_url=UI)) as (evaluate_freshness, tick):
        _materialized_at(instance, tariffs, time.time() - 2 * 3600)
        evaluate_freshness()  # FAIL recorded before the sensor's first tick
        first = tick(None)
        assert json.loads(first.cursor)["failing"] == ["aneel/tariffs"]
        evaluate_freshness()
        second = tick(first.cursor)
        assert _titles(hook) == []
        dg.materialize([_tariffs], instance=instance)
        evaluate_freshness()
        tick(second.cursor)
    assert _titles(hook) == ["aneel/tariffs is fresh again"]
