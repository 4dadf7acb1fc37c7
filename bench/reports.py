"""A COP progress report over 1,000 activities: build (queries), DOCX and PDF rendering.

    .venv/bin/python -m bench.reports --activities 1000

A fresh database (SQLite by default) gets reference data and N generated activities (10
transitions and 2 action entries each on average, every one citing 1-3 synergies provisions), then
`services.reports.build_report(session, "SC-COP5", today)` and
`services.report_render.render(report, "docx" | "pdf")` run R times each (first run reported
apart: it imports ReportLab / python-docx and loads fonts). Targets: DOCX < 2 s, PDF < 5 s, each
measured as build + render (what a download costs).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date

from bench.common import Section, drop_pg_database, fresh_database, save
from bench.generate import generate
from models.db import create_engine, session_factory


async def measure(url: str, repeats: int, section: Section) -> None:
    from services.report_render import render
    from services.reports import build_report

    engine = create_engine(url)
    maker = session_factory(engine)
    try:
        builds, docx, pdf = [], [], []
        first: dict[str, float] = {}
        entries = 0
        size: dict[str, int] = {}
        for k in range(repeats + 1):
            t0 = time.perf_counter()
            async with maker() as session:
                report = await build_report(session, "SC-COP5", date.today())
            t1 = time.perf_counter()
            content_docx, _, _ = render(report, "docx")
            t2 = time.perf_counter()
            content_pdf, _, _ = render(report, "pdf")
            t3 = time.perf_counter()
            if k == 0:
                first = {"build": t1 - t0, "docx": t2 - t1, "pdf": t3 - t2}
                entries = len(
                    {
                        a.id
                        for s in report.sections
                        for sub in s.subsections
                        for row in sub.provisions
                        for a in row.activities
                    }
                )
                size = {"docx": len(content_docx), "pdf": len(content_pdf)}
                continue
            builds.append(t1 - t0)
            docx.append(t2 - t1)
            pdf.append(t3 - t2)
    finally:
        await engine.dispose()
    build = min(builds)
    section.notes.append(
        f"report SC-COP5: {entries} activities in the report; DOCX {size['docx'] / 1024:.0f} KiB, "
        f"PDF {size['pdf'] / 1024:.0f} KiB; first (cold) run build {first['build']:.2f} s, "
        f"DOCX {first['docx']:.2f} s, PDF {first['pdf']:.2f} s; best of {repeats} warm runs below"
    )
    section.add("report build (queries + model)", build, "s")
    section.add("DOCX render", min(docx), "s")
    section.add("DOCX build + render", build + min(docx), "s", target="< 2 s", met=build + min(docx) < 2)
    section.add("PDF render", min(pdf), "s")
    section.add("PDF build + render", build + min(pdf), "s", target="< 5 s", met=build + min(pdf) < 5)
    section.add("PDF build + render, cold", first["build"] + first["pdf"], "s")


def main(activities: int | None = None, repeats: int = 3, backend: str = "sqlite") -> Section:
    parser = argparse.ArgumentParser()
    parser.add_argument("--activities", type=int, default=activities or 1000)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default=backend)
    args = parser.parse_args([] if activities is not None else None)
    section = Section(f"COP report ({args.activities:,} activities, {args.backend})")
    url = fresh_database(args.backend, f"report_{uuid.uuid4().hex[:6]}")
    generate(url, args.activities, args.activities * 10, actions=2)
    asyncio.run(measure(url, args.repeats, section))
    if args.backend == "postgresql":
        asyncio.run(drop_pg_database(url))
    save(section, "reports")
    return section


if __name__ == "__main__":
    main()
