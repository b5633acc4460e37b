"""Object store IO manager against a real S3 API server (moto, loopback) and in local-folder mode."""

import hashlib
import os
import tracemalloc
import uuid

import dagster as dg
import polars as pl
import pytest

from ysh_assets.io_managers.object_store import ObjectStore, ObjectStoreIOManager, RawFile, StoredObject, safe_segment

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-10")


@pytest.fixture(params=["s3", "local"])
def store(request, tmp_path) -> ObjectStore:
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        return ObjectStore(root=f"s3://ysh-test-{uuid.uuid4().hex[:8]}/raw", endpoint_url=endpoint)
    return ObjectStore(root=(tmp_path / "objects").as_uri())


def resources(store: ObjectStore) -> dict:
    return {"io_manager": ObjectStoreIOManager(store=store)}


def write_random_file(path, megabytes: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(megabytes):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def test_multi_megabyte_round_trip_is_streamed_not_loaded_whole(store, tmp_path):
    size = 48 * 1024 * 1024
    source = tmp_path / "gd.zip"
    received: dict[str, str] = {}

    @dg.asset(key=["aneel", "gd_units_raw"])
    def gd_units_raw() -> RawFile:
        return RawFile(path=source, filename="empreendimento-geracao-distribuida.csv", source={"url": "http://x/y.csv"})

    @dg.asset(key=["aneel", "consumer"], ins={"raw": dg.AssetIn(key=["aneel", "gd_units_raw"])})
    def consumer(raw: StoredObject) -> None:
        digest = hashlib.sha256()
        with raw.open() as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        received["sha256"] = digest.hexdigest()
        received["declared"] = raw.sha256

    # A first small run imports everything lazily loaded, so the measured run counts only its own buffers.
    write_random_file(source, 1)
    assert dg.materialize([gd_units_raw, consumer], resources=resources(store)).success
    expected = write_random_file(source, size >> 20)
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    result = dg.materialize([gd_units_raw, consumer], resources=resources(store))
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    assert result.success
    assert received == {"sha256": expected, "declared": expected}
    assert peak < size / 2, f"peak Python allocation {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"

    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["sha256"].value == expected
    assert metadata["bytes"].value == size
    assert metadata["source_url"].value == "http://x/y.csv"
    assert metadata["uri"].value.endswith(f"aneel/gd_units_raw/{expected}.csv")


def test_partitioned_keys_are_content_addressed_and_unchanged_content_is_not_stored_twice(store):
    payloads = {"2026-01-01": b"first day;1\r\n", "2026-01-02": b"second day;2\r\n"}

    @dg.asset(key=["aneel", "tariffs_raw"], partitions_def=DAYS)
    def tariffs_raw(context: dg.AssetExecutionContext) -> bytes:
        return payloads[context.partition_key]

    first = dg.materialize([tariffs_raw], resources=resources(store), partition_key="2026-01-01")
    dg.materialize([tariffs_raw], resources=resources(store), partition_key="2026-01-02")
    again = dg.materialize([tariffs_raw], resources=resources(store), partition_key="2026-01-01")

    digest = hashlib.sha256(payloads["2026-01-01"]).hexdigest()
    keys = sorted(info.key for info in store.list_objects("aneel/tariffs_raw"))
    assert keys == sorted(
        [
            f"aneel/tariffs_raw/2026-01-01/{digest}",
            "aneel/tariffs_raw/2026-01-01/_manifest.json",
            f"aneel/tariffs_raw/2026-01-02/{hashlib.sha256(payloads['2026-01-02']).hexdigest()}",
            "aneel/tariffs_raw/2026-01-02/_manifest.json",
        ]
    )
    meta = lambda result: result.get_asset_materialization_events()[0].materialization.metadata  # noqa: E731
    assert meta(first)["already_stored"].value is False
    assert meta(again)["already_stored"].value is True


def test_parquet_partitions_load_as_one_frame_downstream(store):
    @dg.asset(key=["catalog", "snapshots"], partitions_def=DAYS)
    def snapshots(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return pl.DataFrame({"day": [context.partition_key], "price": [1347.65]})

    seen = {}

    @dg.asset(key=["catalog", "all_snapshots"], ins={"snapshots": dg.AssetIn(key=["catalog", "snapshots"])})
    def all_snapshots(snapshots: pl.DataFrame) -> None:
        seen["frame"] = snapshots

    for key in ("2026-01-01", "2026-01-02"):
        assert dg.materialize([snapshots], resources=resources(store), partition_key=key).success
    assert dg.materialize([snapshots, all_snapshots], resources=resources(store), selection=[all_snapshots]).success
    assert seen["frame"].sort("day").to_dicts() == [
        {"day": "2026-01-01", "price": 1347.65},
        {"day": "2026-01-02", "price": 1347.65},
    ]


def test_untrusted_partition_keys_cannot_escape_the_root(store):
    uploads = dg.DynamicPartitionsDefinition(name="uploads")
    hostile = "../../etc/passwd"

    @dg.asset(key=["datasheets", "uploads"], partitions_def=uploads)
    def uploaded() -> bytes:
        return b"%PDF-1.7"

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("uploads", [hostile])
        result = dg.materialize([uploaded], resources=resources(store), partition_key=hostile, instance=instance)
    assert result.success
    keys = [info.key for info in store.list_objects("")]
    assert keys and all(key.startswith(f"datasheets/uploads/{safe_segment(hostile)}/") for key in keys)
    assert "/" not in safe_segment(hostile) and safe_segment(hostile) not in ("..", ".")
    with pytest.raises(ValueError, match="relative path"):
        store.put_bytes("../outside", b"x")


def test_local_folder_mode_writes_plain_files(tmp_path):
    store = ObjectStore(root=(tmp_path / "objects").as_uri())

    @dg.asset(key=["aneel", "raw"])
    def raw() -> bytes:
        return b"abc"

    assert dg.materialize([raw], resources=resources(store)).success
    stored = tmp_path / "objects" / "aneel" / "raw" / hashlib.sha256(b"abc").hexdigest()
    assert stored.read_bytes() == b"abc"
    assert not list((tmp_path / "objects").rglob(".partial-*"))


def test_symbolic_links_in_a_local_store_are_refused(tmp_path):
    """A link dropped into `incoming/` must not pull a file from elsewhere on the host into the pipeline."""
    secret = tmp_path / "outside" / "secret.pdf"
    secret.parent.mkdir()
    secret.write_bytes(b"%PDF-1.4 not yours")
    incoming = tmp_path / "objects" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "real.pdf").write_bytes(b"%PDF-1.4 yours")
    (incoming / "link.pdf").symlink_to(secret)
    (tmp_path / "objects" / "linked_dir").symlink_to(secret.parent)
    store = ObjectStore(root=(tmp_path / "objects").as_uri())
    assert [info.key for info in store.list_objects("")] == ["incoming/real.pdf"]
    for key in ("incoming/link.pdf", "linked_dir/secret.pdf"):
        with pytest.raises(ValueError, match="symbolic link"):
            store.download(key, tmp_path / "copy.pdf")
    assert not (tmp_path / "copy.pdf").exists()
