"""`audit/gd_changes` between real-layout GD snapshots on the services profile (PostgreSQL, S3) and the local one
(DuckDB): exact new / removed / changed units, publication-level columns ignored, idempotent re-runs, history."""

import json

import dagster as dg
import duckdb
import pytest

from ysh_assets import automation
from ysh_assets.aneel import definitions as aneel
from ysh_assets.aneel.assets import UF_PARTITIONS
from ysh_assets.aneel.portal import AneelPortal
from ysh_assets.audit import definitions as audit
from ysh_assets.audit.assets import GD_CHANGES
from ysh_assets.resources import build_resources
from ysh_assets.settings import Settings
from ysh_assets_tests.aneel.test_pipeline import Stack, bundled_lines, metadata_of, republish_gd

CHANGED_KW, MOVED, REMOVED, ADDED = "GD.AC.000.000.590", "GD.AC.000.001.540", None, "GD.AC.999.999.999"


def _fields(line: str) -> list[str]:
    return [f.strip('"') for f in line.split('";"')]


def _line(fields: list[str]) -> str:
    return '"' + '";"'.join(fields) + '"'


class Snapshot:
    """Bundled lines edited by published column name."""

    def __init__(self, lines: list[str]):
        self.header = _fields(lines[0])
        self.rows = [_fields(line) for line in lines[1:]]

    def col(self, name: str) -> int:
        return self.header.index(name)

    def unit(self, unit_id: str) -> list[str]:
        return next(r for r in self.rows if r[self.col("CodEmpreendimento")] == unit_id)

    def lines(self) -> list[str]:
        return [_line(self.header), *(_line(r) for r in self.rows)]

    def republished(self, day: str, month: str) -> "Snapshot":
        """The same units in a later publication: every row's publication-level columns move."""
        copy = Snapshot(self.lines())
        for row in copy.rows:
            row[copy.col("DatGeracaoConjuntoDados")], row[copy.col("AnmPeriodoReferencia")] = day, month
        return copy


class LocalStack(Stack):
    """The same stack on the local profile: DuckDB warehouse, object store in a folder."""

    def sql(self, statement: str, params=()):
        with duckdb.connect(self.dsn, read_only=True) as conn:
            return conn.execute(statement.replace("%s", "?"), list(params)).fetchall()


@pytest.fixture(params=["services", "local"])
def changes_stack(request, portal, tmp_path):
    if request.param == "services":
        stack = request.getfixturevalue("stack")
        resources = stack.definitions.resources
    else:
        data = tmp_path / "data"
        data.mkdir()
        resources = {**build_resources(Settings.from_env({"YSH_PROFILE": "local", "YSH_DATA_DIR": str(data)}))}
        resources["aneel_portal"] = AneelPortal(base_url=portal.base_url, max_attempts=2, backoff_base_seconds=0.01)
        instance = request.getfixturevalue("local_instance")
        stack = LocalStack(None, instance, str(data / "warehouse.duckdb"), resources["object_store"], portal, None)
    stack.definitions = dg.Definitions.merge(
        aneel.defs, audit.defs, automation.defs, dg.Definitions(resources=resources)
    )
    return stack


@pytest.fixture
def local_instance():
    with dg.instance_for_test() as instance:
        yield instance


def load_and_compare(stack: Stack, tmp_path, snapshot: Snapshot):
    republish_gd(stack, tmp_path, snapshot.lines())
    assert stack.load_units().success
    return compare(stack)


def compare(stack: Stack):
    result = stack.run("audit_gd_changes_job", automation.full_range_tags(UF_PARTITIONS))
    assert result.success
    return result


def logged(stack: Stack) -> dict[tuple[str, str], tuple[str, dict | None, dict | None]]:
    rows = stack.sql(
        "SELECT partition_key, entity_id, change_type, old_values, new_values, snapshot FROM audit.change_log "
        "WHERE asset_key = 'audit/gd_changes'"
    )
    return {(uf, unit): (kind, _json(old), _json(new)) for uf, unit, kind, old, new, _ in rows}


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # DuckDB returns JSON as text


def test_changes_between_two_snapshots_are_exact_and_reruns_replace_them(changes_stack, tmp_path):
    stack = changes_stack
    first = Snapshot(bundled_lines())
    result = load_and_compare(stack, tmp_path, first)
    assert metadata_of(result, GD_CHANGES)["run_changes"] == 0  # nothing to compare the first snapshot with
    assert set(metadata_of(result, GD_CHANGES)["not_compared"]) >= {"AC", "SP"}

    second = first.republished("2026-09-19", "09/2026")
    second.unit(CHANGED_KW)[second.col("MdaPotenciaInstaladaKW")] = "40,25"
    moved = second.unit(MOVED)
    moved[second.col("CodMunicipioIbge")], moved[second.col("NomMunicipio")] = "1200013", "Acrelândia"
    removed = second.rows.pop(5)
    removed_id, removed_uf = removed[second.col("CodEmpreendimento")], removed[second.col("SigUF")]
    added = list(second.unit(CHANGED_KW))
    added[second.col("CodEmpreendimento")] = ADDED
    second.rows.append(added)

    result = load_and_compare(stack, tmp_path, second)
    changes = logged(stack)
    assert set(changes) == {("AC", CHANGED_KW), ("AC", MOVED), (removed_uf, removed_id), ("AC", ADDED)}
    assert changes["AC", CHANGED_KW] == (
        "update",
        {"mda_potencia_instalada_kw": "32.500"},
        {"mda_potencia_instalada_kw": "40.250"},
    )
    assert changes["AC", MOVED] == (
        "update",
        {"cod_municipio_ibge": "1200401", "nom_municipio": "Rio Branco"},
        {"cod_municipio_ibge": "1200013", "nom_municipio": "Acrelândia"},
    )
    kind, old, new = changes[removed_uf, removed_id]
    assert kind == "delete" and new is None and old["cod_cep"] == removed[second.col("CodCEP")]
    assert changes["AC", ADDED] == ("insert", None, None)  # a new unit's values are its row in the table
    assert "dat_geracao_conjunto_dados" not in old  # publication-level columns are no change of a unit
    meta = metadata_of(result, GD_CHANGES)
    assert meta["run_changes"] == 4 and meta["changes_by_kind"] == {"insert": 1, "update": 2, "delete": 1}
    assert meta["changed_columns"] == {"cod_municipio_ibge": 1, "nom_municipio": 1, "mda_potencia_instalada_kw": 1}
    assert "| AC | 1 |" in meta["changes_by_uf"] and CHANGED_KW in meta["preview"]
    ac = [e for e in result.get_asset_materialization_events() if e.partition == "AC"]
    assert ac[0].materialization.metadata["dagster/partition_row_count"].value == 3 + (removed_uf == "AC")

    # Re-running the comparison, or reloading the same file first, logs the same changes once.
    ids_before = stack.sql("SELECT min(id), count(*) FROM audit.change_log")[0]
    compare(stack)
    assert stack.load_units().success
    compare(stack)
    assert logged(stack) == changes
    assert stack.sql("SELECT count(*) FROM audit.change_log")[0][0] == 4
    assert stack.sql("SELECT min(id) FROM audit.change_log")[0][0] > ids_before[0]  # replaced, not kept twice

    # A later publication of the same units changes nothing, and the earlier snapshot's changes stay logged.
    result = load_and_compare(stack, tmp_path, second.republished("2026-10-19", "10/2026"))
    assert metadata_of(result, GD_CHANGES)["run_changes"] == 0
    assert logged(stack) == changes


def test_the_previous_version_is_kept_only_for_a_new_file(changes_stack, tmp_path):
    stack = changes_stack
    first = Snapshot(bundled_lines())
    load_and_compare(stack, tmp_path, first)
    second = first.republished("2026-09-19", "09/2026")
    second.unit(CHANGED_KW)[second.col("MdaPotenciaInstaladaKW")] = "1,00"
    load_and_compare(stack, tmp_path, second)
    before = stack.sql("SELECT mda_potencia_instalada_kw FROM aneel.generation_units_ac__previous "
                       "WHERE cod_empreendimento = %s", (CHANGED_KW,))  # fmt: skip
    assert [float(v) for (v,) in before] == [32.5]
    versions = stack.sql(
        "SELECT count(DISTINCT source_sha256), count(DISTINCT previous_source_sha256) FROM "
        "pipeline.partition_row_counts WHERE table_name = 'aneel.generation_units'"
    )
    assert versions == [(1, 1)]
    assert stack.load_units().success  # the same file again: the previous version stays the first snapshot
    again = stack.sql("SELECT mda_potencia_instalada_kw FROM aneel.generation_units_ac__previous "
                      "WHERE cod_empreendimento = %s", (CHANGED_KW,))  # fmt: skip
    assert [float(v) for (v,) in again] == [32.5]
    assert logged(stack)[("AC", CHANGED_KW)][2] == {"mda_potencia_instalada_kw": "1.000"}
