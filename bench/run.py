"""Run every benchmark and write bench/results/latest.md (and the figures block of bench/README.md).

    .venv/bin/python -m bench.run            # full sizes
    .venv/bin/python -m bench.run --quick    # small sizes, a few minutes
    .venv/bin/python -m bench.run --only dashboard --only reports

Sizes (full / quick): dashboard 100,000 activities + 1,000,000 transitions / 10,000 + 100,000 on
SQLite and PostgreSQL (generated once, reused while the bench database holds that many), and
the oversight pages loaded in Chromium on the same databases (bench/pages.py, n = 10 / 5); moves
N=200 / 60 on SQLite and PostgreSQL; COP report 1,000 / 200 activities; worker memory 10,000 /
1,000 open workflows with workflow caches 1,000 (SDK default) and 10,000 / 100 and 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from pathlib import Path

from bench.common import RESULTS, ROOT, Section, create_pg_database, machine, sqlite_url

README = ROOT / "bench" / "README.md"
START, END = "<!-- latest:start -->", "<!-- latest:end -->"


def _count(url: str) -> int:
    from sqlalchemy import func, select

    from models import Activity
    from models.db import create_engine, session_factory

    async def count() -> int:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return int(await session.scalar(select(func.count()).select_from(Activity)) or 0)
        except Exception:
            return -1
        finally:
            await engine.dispose()

    return asyncio.run(count())


def dashboard_databases(activities: int, transitions: int) -> list[str]:
    """Generated databases of that size: reused (and migrated to head) when present, generated (and
    timed) otherwise."""
    from bench.generate import generate
    from cli.runner import migrate

    urls = []
    sqlite_path = RESULTS / "db" / f"gen_{activities}.db"
    pg_url = (
        os.environ.get("SYNERGIES_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
        .rsplit("/", 1)[0]
        .replace("postgresql://", "postgresql+asyncpg://")
        + f"/synergies_bench_gen_{activities}"
    )
    for url, backend in ((sqlite_url(sqlite_path), "sqlite"), (pg_url, "postgresql")):
        if _count(url) == activities:
            migrate(url)
            urls.append(url)
            continue
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        else:
            asyncio.run(create_pg_database(f"synergies_bench_gen_{activities}"))
        migrate(url)
        stats = generate(url, activities, transitions)
        (RESULTS / f"generate_{backend}.json").write_text(json.dumps(stats))
        urls.append(url)
    return urls


def write_markdown(sections: list[Section], info: dict[str, str], quick: bool, started: float) -> str:
    lines = [
        f"# Benchmark results{' (quick sizes)' if quick else ''}",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {time.time() - started:.0f} s.",
        "",
        "| machine | |",
        "|---|---|",
        f"| nproc | {info['nproc']} |",
        f"| RAM | {info['ram']} |",
        f"| CPU | {info['cpu']} |",
        f"| python | {info['python']} |",
        f"| temporalio | {info['temporalio']} |",
        f"| load average at start (1 min) | {info['load_at_start']} |",
        f"| load average at end | {' '.join(f'{x:.2f}' for x in os.getloadavg())} |",
        "",
    ]
    for path in sorted(RESULTS.glob("generate_*.json")):
        lines.append(f"Data generation ({path.stem.split('_', 1)[1]}): `{path.read_text().strip()}`  ")
    lines += _targets(sections)
    for section in sections:
        lines += ["", f"## {section.title}", "", "| figure | value | target | met |", "|---|---:|---|---|"]
        for f in section.figures:
            met = "" if f.met is None else ("yes" if f.met else "**no**")
            lines.append(f"| {f.name} | {f.value:,.3g} {f.unit} | {f.target} | {met} |")
        for note in section.notes:
            lines.append(f"\n- {note}")
    return "\n".join(lines) + "\n"


def _targets(sections: list[Section]) -> list[str]:
    """Every figure that has a target, met or missed, in one table ahead of the parts' details."""
    judged = [(section, f) for section in sections for f in section.figures if f.met is not None]
    if not judged:
        return []
    missed = sum(not f.met for _, f in judged)
    lines = [
        "",
        f"## Targets: {len(judged) - missed} met, {missed} missed",
        "",
        "| part | figure | value | target | met |",
        "|---|---|---:|---|---|",
    ]
    for section, f in judged:
        part = section.title.split(" (run ")[0]
        lines.append(
            f"| {part} | {f.name} | {f.value:,.3g} {f.unit} | {f.target} | {'yes' if f.met else '**no**'} |"
        )
    return lines


def collect() -> None:
    from bench.common import Figure

    sections = []
    info = None
    for name in ("dashboard", "pages", "transitions", "reports", "worker_memory"):
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        info = info or data["machine"]
        section = Section(
            f"{data['title']} (run {data['at']})", [Figure(**f) for f in data["figures"]], data["notes"]
        )
        sections.append(section)
    text = write_markdown(sections, info or machine(), False, time.time())
    text = text.replace("load average at start (1 min)", "load average at the first part's start")
    text = re.sub(r"(Run [^,]*), \d+ s\.", r"\1 (assembled from the parts' last results).", text)
    (RESULTS / "latest.md").write_text(text)
    _readme(text)
    print(f"wrote {RESULTS / 'latest.md'}")


def _readme(text: str) -> None:
    if README.exists():
        readme = README.read_text()
        body = text.split("\n", 1)[1].replace("\n## ", "\n### ")  # under the README's own heading
        readme = re.sub(f"{START}.*{END}", lambda _: f"{START}\n{body}\n{END}", readme, flags=re.S)
        README.write_text(readme)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", action="append", choices=["dashboard", "transitions", "reports", "worker_memory"]
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="run nothing: assemble latest.md from the parts' last results/*.json",
    )
    args = parser.parse_args()
    if args.collect:
        collect()
        return
    only = set(args.only or ["dashboard", "transitions", "reports", "worker_memory"])
    started = time.time()
    info = machine()
    sections: list[Section] = []
    if "dashboard" in only:
        from bench import dashboard, pages

        sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
        urls = dashboard_databases(*sizes)
        sections.append(dashboard.main(urls, n=20 if args.quick else 30))
        sections.append(pages.main(urls, n=5 if args.quick else 10))
    if "transitions" in only:
        from bench import transitions

        sections.append(transitions.main(["sqlite", "postgresql"], n=60 if args.quick else 200))
    if "reports" in only:
        from bench import reports

        sections.append(reports.main(200 if args.quick else 1000, repeats=1))
    if "worker_memory" in only:
        from bench import worker_memory

        if args.quick:
            sections.append(worker_memory.main(1000, [100, 1000]))
        else:
            sections.append(worker_memory.main(10_000, [1000, 10_000]))
    text = write_markdown(sections, info, args.quick, started)
    name = "latest.md" if not args.only else f"latest-{'-'.join(sorted(only))}.md"
    (RESULTS / name).write_text(text)
    print(f"wrote {RESULTS / name}")
    if not args.only:
        _readme(text)


if __name__ == "__main__":
    main()
