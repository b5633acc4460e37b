"""The `ysh` command: operator tasks that are not Dagster runs."""

from __future__ import annotations

import argparse
import sys

from ysh_assets.settings import Settings, redact_dsn
from ysh_assets.warehouse.migrations import migrate


def _migrate(args: argparse.Namespace) -> int:
    dsn = args.dsn or Settings.from_env().pg_dsn
    report = migrate(dsn)
    for label in report.applied:
        print(f"applied {label}")
    print(
        f"{redact_dsn(dsn)}: {len(report.applied)} applied, {len(report.already_applied)} already applied, "
        f"{report.partitions_created} monthly partitions created"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ysh", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate_cmd = commands.add_parser("migrate", help="apply missing sql/ migrations to the PostgreSQL warehouse")
    migrate_cmd.add_argument("--dsn", help="PostgreSQL URL (default: $YSH_PG_DSN)")
    migrate_cmd.set_defaults(handler=_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
