"""The `ysh` command: operator tasks next to the Dagster UI."""

import argparse
import sys

from ysh_assets.settings import Settings, redact_dsn
from ysh_assets.warehouse.engines import DuckDBEngine, PostgresEngine, WarehouseEngine


def _migrate(args: argparse.Namespace) -> int:
    engine = _profile_engine(args.dsn)
    report = engine.migrate()
    for label in report.applied:
        print(f"applied {label}")
    print(
        f"{engine.describe()}: {len(report.applied)} applied, {len(report.already_applied)} already applied, "
        f"{report.partitions_created} monthly partitions created"
    )
    return 0


def _profile_engine(dsn: str | None) -> WarehouseEngine:
    """--dsn, else the profile's warehouse: $YSH_PG_DSN in `services`, the DuckDB file in `local`."""
    if dsn:
        return PostgresEngine(dsn)
    settings = Settings.from_env()
    return (
        PostgresEngine(settings.pg_dsn) if settings.profile == "services" else DuckDBEngine(str(settings.duckdb_path))
    )


SUMMARY_QUERIES = (  # (table, query) printed by `ysh daily`
    ("aneel.datasets", "SELECT name, format, size_bytes, last_modified FROM aneel.datasets "
     "ORDER BY snapshot_date DESC, name LIMIT 2"),
    ("aneel.generation_units", "SELECT sig_uf, count(*) AS units, round(sum(mda_potencia_instalada_kw), 1) "
     "AS installed_kw FROM aneel.generation_units GROUP BY sig_uf ORDER BY sig_uf"),
    ("aneel.tariffs", "SELECT extract(year FROM dat_inicio_vigencia) AS start_year, count(*) AS tariff_rows "
     "FROM aneel.tariffs GROUP BY 1 ORDER BY 1"),
    ("aneel.tariffs_current", "SELECT sig_agente, dsc_sub_grupo, dsc_detalhe, dsc_unidade_terciaria, vlr_tusd, "
     "vlr_te, vlr_te_rs_kwh FROM aneel.tariffs_current ORDER BY sig_agente, dsc_detalhe"),
    ("products.products", "SELECT snapshot_date, distributor, category, count(*) AS products, "
     "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY price_brl))::numeric, 2) AS median_price_brl "
     "FROM products.products GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
    ("products.solar_kits", "SELECT snapshot_date, distributor, count(*) AS kits, round(avg(system_power_kwp), 2) "
     "AS avg_kwp, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY price_per_wp))::numeric, 2) AS median_brl_per_wp "
     "FROM products.solar_kits GROUP BY 1, 2 ORDER BY 1, 2"),
    ("products.certification_links", "SELECT distributor, match_kind, count(*) AS products "
     "FROM products.certification_links GROUP BY 1, 2 ORDER BY 1, 2"),
    ("aneel.certifications", "SELECT equipment_type, certifier, count(*) AS certified FROM aneel.certifications "
     "GROUP BY 1, 2 ORDER BY 1, 2"),
    ("products.datasheets", "SELECT filename, status, coalesce(quarantine_reason, '') AS reason, models, extractor "
     "FROM products.datasheets ORDER BY filename"),
    ("pipeline.quarantine", "SELECT asset_key, count(*) AS rows, min(reason) AS first_reason "
     "FROM pipeline.quarantine GROUP BY asset_key ORDER BY asset_key"),
)  # fmt: skip


def _seed_bundled_pdfs(store) -> None:
    """Offline runs: the bundled datasheets are dropped under incoming/ (as an operator would), once, and left to
    settle, so the same sensor and assets read them."""
    import time
    from pathlib import Path

    from ysh_assets.datasheets.sensors import INCOMING_PREFIX
    from ysh_assets.object_cursor import SETTLE_SECONDS

    added = 0
    for pdf in sorted((Path(__file__).parent / "sample_data" / "datasheets").glob("*.pdf")):
        key = f"{INCOMING_PREFIX}{pdf.name}"
        if not store.exists(key):
            store.put_bytes(key, pdf.read_bytes(), content_type="application/pdf")
            added += 1
    if added:
        time.sleep(SETTLE_SECONDS + 0.5)


def _pdfs(args: argparse.Namespace) -> int:
    """The datasheet step of the daily chain, for CI between the catalog and the index: `new_pdf_sensor` once,
    then one `pdf_processing` run per new PDF, in this process and on the dagster CLI's instance."""
    from dagster._cli.utils import get_possibly_temporary_instance_for_cli

    from ysh_assets.automation import run_new_pdfs
    from ysh_assets.definitions import defs

    with get_possibly_temporary_instance_for_cli("ysh pdfs") as instance:
        results = run_new_pdfs(defs, instance)
    for result in results:
        print(f"{result.run_id}: {'ok' if result.success else 'FAILED'}")
    print(f"{len(results)} new PDFs processed")
    return 0 if all(r.success for r in results) else 1


def _backfill(args: argparse.Namespace) -> int:
    """A load's backfill in this process on the dagster CLI's instance, batch (one run per contiguous range) or
    isolated (one run per partition, each run whatever the others did), or printed as `dagster job execute`."""
    import json
    import shlex

    from ysh_assets.automation import backfill_sequence

    try:
        sequence = backfill_sequence(
            args.load, args.partitions.split(",") if args.partitions else None, isolated=args.isolated
        )
    except ValueError as error:
        print(f"ysh backfill: {error}", file=sys.stderr)
        return 2
    if args.commands:
        for job, tags in sequence:
            print(f"dagster job execute -m ysh_assets.definitions -j {job} --tags {shlex.quote(json.dumps(tags))}")
        return 0
    from dagster._cli.utils import get_possibly_temporary_instance_for_cli

    from ysh_assets.automation import run_daily_sequence
    from ysh_assets.definitions import defs

    failed = False
    with get_possibly_temporary_instance_for_cli("ysh backfill") as instance:
        for job, tags in sequence:
            (result,) = run_daily_sequence(defs, instance, [(job, tags)])
            print(f"{job} {json.dumps(tags)}: {'ok' if result.success else 'FAILED'} (run {result.run_id})")
            failed |= not result.success
    return 1 if failed else 0


def _daily(args: argparse.Namespace) -> int:
    """Runs the daily chain in this process and prints what it loaded and what the checks said."""
    if args.commands:
        import json
        import shlex

        from ysh_assets.automation import NEW_PDFS, daily_sequence_tags

        for job, tags in daily_sequence_tags():
            if job == NEW_PDFS:
                print(f"ysh pdfs  # {NEW_PDFS} once: one pdf_processing run per new PDF under incoming/")
                continue
            tag_option = f" --tags {shlex.quote(json.dumps(tags))}" if tags else ""
            print(f"dagster job execute -m ysh_assets.definitions -j {job}{tag_option}")
        return 0
    import dagster as dg
    import duckdb
    import polars as pl
    import psycopg
    from dagster._cli.utils import get_possibly_temporary_instance_for_cli

    from ysh_assets.automation import NEW_PDFS, daily_sequence_tags, run_daily_sequence
    from ysh_assets.definitions import defs, settings

    print(f"profile={settings.profile} sources={settings.sources} data={settings.data_dir}")
    # The instance the dagster CLI would use here: $DAGSTER_HOME, else ./dagster.yaml (the embedded default,
    # SQLite under .dagster_home), so the UI shows these runs beside the data they wrote.
    with get_possibly_temporary_instance_for_cli("ysh daily") as instance:
        sequence = daily_sequence_tags()
        datasheets = sequence.index((NEW_PDFS, {}))  # the sources first: with them down, nothing is seeded
        results = run_daily_sequence(defs, instance, sequence[:datasheets])
        if all(r.success for r in results):
            if settings.sources == "bundled":
                _seed_bundled_pdfs(defs.resources["object_store"])
            results += run_daily_sequence(defs, instance, sequence[datasheets:])
    failed = False
    for result in results:
        checks = [
            e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ]
        passed = sum(c.passed for c in checks)
        status = "ok" if result.success else "FAILED"
        print(f"{result.job_def.name}: {status}; checks {passed}/{len(checks)} passed")
        for check in checks:
            if not check.passed:
                name = f"{check.asset_key.to_user_string()}:{check.check_name}"
                print(f"  check {name} did not pass ({check.severity.value})")
        failed |= not result.success
    # build_resources resolves the EnvVar settings (a DSN given as YSH_PG_DSN) the way a run does
    try:
        with (
            dg.build_resources({"warehouse": defs.resources["warehouse"]}) as resources,
            pl.Config(tbl_rows=40, tbl_cols=10, fmt_str_lengths=60, tbl_hide_dataframe_shape=True),
        ):
            for table, statement in SUMMARY_QUERIES:
                if resources.warehouse.table_exists(table):
                    print(f"\n{table}\n{resources.warehouse.query(statement)}")
    except (OSError, psycopg.Error, duckdb.Error) as error:
        print(f"\ncannot read the summary from the warehouse: {redact_dsn(str(error))}", file=sys.stderr)
        return 1
    return 1 if failed else 0


def _extract_pdf(args: argparse.Namespace) -> int:
    """Prints, as JSON, exactly the rows `datasheets/enriched_pdfs` would store for each file (same code);
    a file that cannot be read or is quarantined is reported (the reason's detail on stderr), exit status 1."""
    import json
    from pathlib import Path

    from ysh_assets.datasheets.enrich import OllamaResource
    from ysh_assets.datasheets.inspect import safe_filename
    from ysh_assets.datasheets.pipeline import process_pdf

    settings = Settings.from_env()
    ollama = None if args.rules_only else OllamaResource(base_url=settings.ollama_url, model=settings.ollama_model)
    results, failed = [], False
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            results.append({"file": name, "error": "no such file"})
            failed = True
            continue
        processed = process_pdf(path, filename=safe_filename(path.name), ollama=ollama)
        results.append(processed.to_json())
        if processed.quarantine_reason:
            print(f"{name}: quarantined ({processed.quarantine_reason}): {processed.detail}", file=sys.stderr)
            failed = True
    print(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    return 1 if failed else 0


def _parse_catalog(args: argparse.Namespace) -> int:
    """Every accepted record of the file as a JSON line on stdout, every rejected one (with its reason) on
    stderr, by the same adapters as the catalog assets; exit status 2 only for a file that cannot be used."""
    import json

    from ysh_assets.catalog.distributors import read_catalog
    from ysh_assets.catalog.records import CatalogFormatError

    try:
        batch = read_catalog(args.distributor, args.file)
    except (CatalogFormatError, OSError) as error:
        print(f"ysh parse-catalog: {error}", file=sys.stderr)
        return 2
    for record in batch.accepted_records():
        print(json.dumps(record, ensure_ascii=False, default=str))
    for record in batch.rejected_records():
        print(json.dumps(record, ensure_ascii=False, default=str), file=sys.stderr)
    return 0


def _search(args: argparse.Namespace) -> int:
    """The index the assets built (the demo's, from the repository root with no settings): results with score,
    kind, title, manufacturer, model, price and where each came from."""
    import json

    from ysh_assets.resources import search_index_for
    from ysh_assets.search.index import IndexBusy

    index = search_index_for(Settings.from_env())
    try:
        with index.client() as client:
            if not client.exists(index.alias):
                print(f"ysh search: no index at {index.location()}: materialize search/vector_index (make demo)",
                      file=sys.stderr)  # fmt: skip
                return 1
            hits = index.search(
                " ".join(args.query),
                limit=args.limit,
                kind=args.kind,
                category=args.category,
                max_price=args.max_price,
                client=client,
            )
    except IndexBusy as error:
        print(f"ysh search: {error}", file=sys.stderr)
        return 2
    for rank, hit in enumerate(hits, start=1):
        row = hit.to_json()
        if args.json:
            print(json.dumps({"rank": rank, **row}, ensure_ascii=False))
            continue
        price = f"R$ {row['price_brl']:,.2f}" if row["price_brl"] is not None else "-"
        source = row["source"]
        origin = (
            f"datasheet {source['file']} p.{','.join(map(str, source['pages'] or []))}"
            if row["kind"] == "spec"
            else f"{source['distributor']} {source['url'] or ''}".strip()
        )
        print(f"{rank:2}. {row['score']:.3f}  {row['kind']:7} {row['title'][:60]:60}  {price:>14}  {origin}")
    if not hits and not args.json:
        print("no results")
    return 0


def _bench_search(args: argparse.Namespace) -> int:
    from ysh_assets.bench import search

    search.run(synthetic_points=args.points)
    return 0


def _bench_pdf_accuracy(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ysh_assets.datasheets import accuracy

    accuracy.run([Path(d) for d in args.directories])
    return 0


def _bench_catalog(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ysh_assets.bench import catalog

    catalog.run(Path(args.directory), products=args.products)
    return 0


def _bench_gd_load(args: argparse.Namespace) -> int:
    from ysh_assets.bench import gd_load

    dsn = args.dsn or Settings.from_env().pg_dsn
    if args.changes and args.mode != "operator":
        raise SystemExit("--changes measures whole dagster processes: use it with --mode operator")
    gd_load.run(args.rows, dsn, mode=args.mode, repeat=args.repeat, keep=args.keep, changes=args.changes)
    return 0


def _quota(args: argparse.Namespace) -> int:
    from ysh_assets.ops.quotas import quota_report

    print(quota_report(Settings.from_env(), as_json=args.json))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ysh", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    migrate_cmd = commands.add_parser("migrate", help="apply missing sql/ migrations to the profile's warehouse")
    migrate_cmd.add_argument("--dsn", help="PostgreSQL URL (default: the profile's warehouse)")
    migrate_cmd.set_defaults(handler=_migrate)

    quota_cmd = commands.add_parser("quota", help="today's requests per source against its quota, and breaker states")
    quota_cmd.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    quota_cmd.set_defaults(handler=_quota)

    daily_cmd = commands.add_parser("daily", help="run the daily ingestion chain now, in this process")
    daily_cmd.add_argument(
        "--commands", action="store_true", help="print the same chain as `dagster job execute` commands, and stop"
    )
    daily_cmd.set_defaults(handler=_daily)

    pdfs_cmd = commands.add_parser("pdfs", help="process the new PDFs under incoming/ now (the chain's datasheet step)")
    pdfs_cmd.set_defaults(handler=_pdfs)

    backfill_cmd = commands.add_parser("backfill", help="re-run a load over its partitions: batch or isolated runs")
    backfill_cmd.add_argument("load", choices=["generation_units", "tariffs"])
    backfill_cmd.add_argument("--partitions", help="comma-separated partition keys (default: all)")
    backfill_cmd.add_argument("--isolated", action="store_true", help="one run per partition instead of one per range")
    backfill_cmd.add_argument(
        "--commands", action="store_true", help="print the `dagster job execute` commands, and stop"
    )
    backfill_cmd.set_defaults(handler=_backfill)

    extract_cmd = commands.add_parser("extract-pdf", help="print the datasheet rows the asset would store, as JSON")
    extract_cmd.add_argument("files", nargs="+", metavar="FILE")
    extract_cmd.add_argument("--rules-only", action="store_true", help="do not ask Ollama ($YSH_OLLAMA_URL)")
    extract_cmd.set_defaults(handler=_extract_pdf)

    search_cmd = commands.add_parser("search", help="search products, kits and datasheet specs (the search index)")
    search_cmd.add_argument("query", nargs="+", metavar="QUERY")
    search_cmd.add_argument("--json", action="store_true", help="one JSON object per result per line")
    search_cmd.add_argument("--limit", type=int, default=10)
    search_cmd.add_argument("--kind", choices=("product", "kit", "spec"))
    search_cmd.add_argument("--category", help="module, inverter, hybrid_inverter, microinverter, battery, kit, ...")
    search_cmd.add_argument("--max-price", type=float, help="in BRL")
    search_cmd.set_defaults(handler=_search)

    catalog_cmd = commands.add_parser(
        "parse-catalog", help="print a distributor file's normalized products or kits as JSON lines"
    )
    catalog_cmd.add_argument("distributor", metavar="DISTRIBUTOR")
    catalog_cmd.add_argument("file", metavar="FILE")
    catalog_cmd.set_defaults(handler=_parse_catalog)

    bench = commands.add_parser("bench", help="benchmarks (never part of the tests)").add_subparsers(
        dest="benchmark", required=True
    )
    gd_cmd = bench.add_parser("gd-load", help="full-size GD units load vs a plain COPY into PostgreSQL")
    gd_cmd.add_argument("--rows", type=int, default=4_700_000)
    gd_cmd.add_argument("--dsn", help="PostgreSQL URL allowed to create a scratch database (default: $YSH_PG_DSN)")
    gd_cmd.add_argument("--repeat", type=int, default=3, help="full-size runs of each side; medians compared")
    gd_cmd.add_argument("--keep", action="store_true", help="keep the scratch databases")
    gd_cmd.add_argument(
        "--mode",
        choices=("operator", "asset"),
        default="operator",
        help="operator: whole `dagster asset materialize` processes vs psql \\copy; asset: the asset bodies in-process",
    )
    gd_cmd.add_argument(
        "--changes",
        action="store_true",
        help="also publish the next snapshot (1%% changed, 0.5%% removed, 0.5%% new) and time audit/gd_changes",
    )
    gd_cmd.set_defaults(handler=_bench_gd_load)
    catalog_bench = bench.add_parser(
        "catalog", help="kit parsing accuracy on distributor files in DIR, certification matching throughput"
    )
    catalog_bench.add_argument(
        "directory", metavar="DIR", help="distributor files (DIR/<distributor>/... or <distributor>_*)"
    )
    catalog_bench.add_argument("--products", type=int, default=10_000, help="products matched against the CEC lists")
    catalog_bench.set_defaults(handler=_bench_catalog)
    search_bench = bench.add_parser("search", help="recall@5 and MRR of dense, sparse and hybrid search, latency")
    search_bench.add_argument("--points", type=int, default=20_000, help="synthetic points for the scale run")
    search_bench.set_defaults(handler=_bench_search)
    pdf_cmd = bench.add_parser("pdf-accuracy", help="extraction precision/recall against labels, text and OCR pages/s")
    pdf_cmd.add_argument("directories", nargs="+", metavar="DIR", help="folders of PDFs, each with its labels.json")
    pdf_cmd.set_defaults(handler=_bench_pdf_accuracy)
    return parser


def main(argv: list[str] | None = None) -> int:
    import psycopg

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except psycopg.OperationalError as error:  # unreachable or hung server: say so, without a traceback
        print(f"ysh {args.command}: PostgreSQL unreachable: {redact_dsn(str(error)).strip()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
