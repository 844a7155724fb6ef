"""`lakehouse generate` and `lakehouse generate stream`: the CLI side of the generator."""

from __future__ import annotations

import argparse
import datetime as dt

from rich.console import Console

from lakehouse.config import Config
from lakehouse.generate.spec import GeneratorSpec


def add_parser(commands: argparse._SubParsersAction) -> None:
    spec = argparse.ArgumentParser(add_help=False)
    spec.add_argument("--customers", type=int, default=1_000, help="customers (default 1000)")
    spec.add_argument("--days", type=int, default=30, help="days of activity (default 30)")
    spec.add_argument("--seed", type=int, default=42, help="same seed, same data (default 42)")
    spec.add_argument(
        "--start-date",
        type=dt.date.fromisoformat,
        default=dt.date(2024, 1, 1),
        help="first day, YYYY-MM-DD (default 2024-01-01)",
    )
    spec.add_argument(
        "--defect-rate",
        type=float,
        default=0.01,
        help="share of rows with an injected defect (default 0.01)",
    )
    generate = commands.add_parser(
        "generate",
        parents=[spec],
        help="generate bank and retail data: CSV drops, MariaDB tables, truth (and `stream`)",
        description="Writes daily CSV drops to the landing area, the ground truth to the truth "
        "directory (never read by the pipeline), and loads the MariaDB tables.",
    )
    generate.add_argument("--no-mysql", action="store_true", help="do not load MariaDB")
    generate.add_argument(
        "--mysql-up-to",
        type=dt.date.fromisoformat,
        help="load MariaDB only with row versions up to this day (default: all days)",
    )
    modes = generate.add_subparsers(dest="mode", metavar="MODE")
    stream = modes.add_parser(
        "stream",
        parents=[spec],
        help="produce JSON transaction events to Kafka at a rate",
        description="Replays the generated transactions as JSON events keyed by customer.",
    )
    stream.add_argument("--rate", type=int, default=1_000, help="events per second (default 1000)")
    stream.add_argument("--seconds", type=float, default=10, help="how long (default 10)")
    stream.add_argument("--topic", default="transactions", help="topic (default transactions)")


def run(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    spec = GeneratorSpec(
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        start_date=args.start_date,
        defect_rate=args.defect_rate,
    )
    if args.mode == "stream":
        return _stream(args, cfg, console, spec)
    return _batch(args, cfg, console, spec)


def _batch(args: argparse.Namespace, cfg: Config, console: Console, spec: GeneratorSpec) -> int:
    from lakehouse.generate import generate

    data = generate(spec, landing=cfg.path("landing"), truth=cfg.path("truth"), progress=True)
    console.print(
        f"generated {spec.customers:,} customers x {spec.days} days in {data.seconds:.1f} s: "
        + ", ".join(f"{n} {c:,}" for n, c in data.row_counts.items()),
        highlight=False,
    )
    console.print(f"  CSV drops: {cfg.path('landing')}", highlight=False)
    console.print(f"  truth (for tests and benchmarks only): {cfg.path('truth')}", highlight=False)
    if not args.no_mysql:
        mysql = cfg.mysql
        loaded = load_into_mysql(data, cfg, up_to=args.mysql_up_to)
        total = ", ".join(f"{t} {n:,}" for t, n in loaded.items())
        console.print(
            f"  MariaDB {mysql.host}:{mysql.port}/{mysql.database}: {total}", highlight=False
        )
    return 0


def load_into_mysql(data, cfg: Config, *, up_to: dt.date | None = None) -> dict[str, int]:
    """The generated MariaDB tables, as of ``up_to``, into the configured MySQL source."""
    from lakehouse.generate.mysql_sink import load_mysql

    mysql = cfg.mysql
    return load_mysql(
        data,
        host=mysql.host,
        port=mysql.port,
        user=mysql.user,
        password=mysql.password.get_secret_value() if mysql.password else "",
        database=mysql.database,
        up_to=up_to,
    )


def _stream(args: argparse.Namespace, cfg: Config, console: Console, spec: GeneratorSpec) -> int:
    from lakehouse.generate.kafka_sink import stream_transactions
    from lakehouse.services import kafka_bootstrap

    bootstrap = kafka_bootstrap(cfg)
    with console.status(
        f"producing ~{args.rate:,} events/s to {args.topic} for {args.seconds:g} s"
    ):
        sent = stream_transactions(
            spec,
            bootstrap_servers=bootstrap,
            topic=args.topic,
            rate=args.rate,
            seconds=args.seconds,
            seed=args.seed,
        )
    console.print(f"produced {sent:,} events to {args.topic} at {bootstrap}", highlight=False)
    return 0
