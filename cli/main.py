"""The `synergies` command line. Commands stay thin: the logic lives in services/seed/,
services/tokens.py and services/accounts.py. Each command runs in one committed transaction
against DATABASE_URL; a refused input prints one line on stderr and exits with status 1.

Add a command with `@app.command()` (or a group with `app.add_typer`) next to the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError
from core.settings import get_settings
from core.stages import Role
from models import ApiToken
from models.db import create_engine, session_factory, transaction
from services.accounts import create_person, person_by_email, tokens_of
from services.seed import MISDATED_HINT, DemoResult, SeedDataError, load_demo_data, load_reference_data
from services.tokens import issue_token, revoke_token
from services.web_auth import issue_sign_in_link

app = typer.Typer(
    no_args_is_help=True,
    help="Synergies Tracker: joint activities of the Basel, Rotterdam, Stockholm and Minamata conventions.",
)
demo_app = typer.Typer(no_args_is_help=True, help="The demo data set (the 2009 annex of joint activities).")
person_app = typer.Typer(no_args_is_help=True, help="People who use the tracker.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens (bearer tokens, shown once).")
app.add_typer(demo_app, name="demo")
app.add_typer(person_app, name="person")
app.add_typer(token_app, name="token")

T = TypeVar("T")


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction; domain and data errors end the command cleanly."""

    async def main() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        fail(error.detail)
    except SeedDataError as error:
        fail(str(error))


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@app.command()
def seed() -> None:
    """Load or update the reference data (conventions, decisions, provisions, bodies, meetings)."""
    counts = run_in_transaction(lambda session: load_reference_data(session))
    kinds = ("conventions", "decisions", "provisions", "bodies", "meetings")
    typer.echo(
        "Reference data: "
        + ", ".join(f"{counts[kind]} {kind}" for kind in kinds)
        + f" ({counts['created']} created, {counts['updated']} updated)."
    )


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo activities with their history (reference data included), at their real
    dates; idempotent."""
    result: DemoResult = run_in_transaction(lambda session: load_demo_data(session))
    already = len(result.activity_ids) - len(result.created_ids)
    typer.echo(f"Demo data: {len(result.created_ids)} activities created, {already} already present.")
    if result.misdated_ids:
        typer.secho(MISDATED_HINT.format(count=len(result.misdated_ids)), err=True, fg=typer.colors.YELLOW)


@person_app.command("create")
def person_create(
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str, typer.Option(help="Email address (unique).")],
    role: Annotated[Role, typer.Option(help="What the person may do.")],
    secretariat: Annotated[str | None, typer.Option(help="e.g. basel, rotterdam, stockholm.")] = None,
) -> None:
    """Create a person."""
    person = run_in_transaction(
        lambda session: create_person(session, name=name, email=email, role=role, secretariat=secretariat)
    )
    typer.echo(f"Person {person.id} created: {person.name} <{person.email}> ({person.role.value}).")


@app.command("signin-link")
def signin_link(email: Annotated[str, typer.Option(help="Email of the person who signs in.")]) -> None:
    """Print a one-time sign-in link for the web app (single use; expires after
    SYNERGIES_SIGN_IN_LINK_MINUTES). Only its digest is stored."""
    settings = get_settings()

    async def work(session: AsyncSession) -> str:
        person = await person_by_email(session, email)
        if not person.active:
            fail(f"{person.email} is deactivated")
        return await issue_sign_in_link(session, person, settings)

    url = run_in_transaction(work)
    typer.echo(
        f"Sign-in link for {email} (works once, for {settings.sign_in_link_minutes} minutes):", err=True
    )
    typer.echo(url)


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="Email of the person the token acts for.")],
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "cli",
) -> None:
    """Issue a token and print it once on stdout (only its digest is stored)."""

    async def work(session: AsyncSession) -> tuple[int, str, str]:
        person = await person_by_email(session, email)
        row, token = await issue_token(session, person, name=name)
        return row.id, person.email, token

    token_id, owner, token = run_in_transaction(work)
    typer.echo(f"Token {token_id} ({name}) for {owner}; it is shown only now:", err=True)
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token id (see `token list`).")],
) -> None:
    """Revoke a token; requests carrying it are refused from now on."""
    if not run_in_transaction(lambda session: revoke_token(session, token_id)):
        fail(f"token {token_id} does not exist or is already revoked")
    typer.echo(f"Token {token_id} revoked.")


def _token_line(row: ApiToken) -> str:
    used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never used"
    state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
    created = f"created {row.created_at:%Y-%m-%d %H:%M}"
    return "\t".join([str(row.id), row.name, f"{row.prefix}…", created, used, state])


@token_app.command("list")
def token_list(email: Annotated[str, typer.Option(help="Email of the person.")]) -> None:
    """List a person's tokens, newest first (never the tokens themselves)."""

    async def work(session: AsyncSession) -> list[str]:
        person = await person_by_email(session, email)
        return [_token_line(row) for row in await tokens_of(session, person)]

    lines = run_in_transaction(work)
    typer.echo("\n".join(lines) if lines else f"{email} has no tokens.")


@app.command()
def report(
    meeting: Annotated[
        str,
        typer.Argument(help="Meeting id or code, e.g. SC-COP5; several, comma-separated, for a joint note."),
    ],
    format: Annotated[str, typer.Option("--format", "-f", help="docx, html, md, pdf, csv or json.")] = "docx",
    as_of: Annotated[
        str | None, typer.Option(help="Report the record as of this day (YYYY-MM-DD; default today).")
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File to write ('-' for stdout).")
    ] = None,
    variant: Annotated[str, typer.Option(help="document (what is submitted) or internal.")] = "document",
    lang: Annotated[str, typer.Option(help="Language of the fixed text: en, fr or es.")] = "en",
    symbol: Annotated[
        str | None, typer.Option(help="Store the report's document symbol on the meeting first.")
    ] = None,
    agenda_item: Annotated[str | None, typer.Option(help="Store the agenda item, e.g. '4 (a)'.")] = None,
    agenda_item_title: Annotated[str | None, typer.Option(help="Store the agenda item's title.")] = None,
    agenda_symbol: Annotated[
        str | None, typer.Option(help="Store the provisional agenda's symbol (the item's footnote).")
    ] = None,
    introduction: Annotated[
        str | None, typer.Option(help="Store introduction paragraphs (blank-line separated; '' clears).")
    ] = None,
    possible_action: Annotated[
        str | None, typer.Option(help="Store the 'Possible action' paragraph(s) ('' clears).")
    ] = None,
) -> None:
    """Write a COP progress report on joint activities (front matter and the annex of the synergies
    note); the front-matter options are stored on the meeting (single meeting only)."""
    import sys
    from datetime import UTC, date, datetime
    from pathlib import Path

    from services.report_render import FORMATS, render
    from services.report_text import LANGUAGES
    from services.reports import Variant, build_report, get_meeting

    if format not in FORMATS:
        fail(f"unknown format {format!r}; formats: {', '.join(FORMATS)}")
    if variant not in tuple(Variant):
        fail(f"unknown variant {variant!r}; variants: {', '.join(Variant)}")
    if lang not in LANGUAGES:
        fail(f"unknown language {lang!r}; languages: {', '.join(LANGUAGES)}")
    try:
        day = date.fromisoformat(as_of) if as_of else datetime.now(UTC).date()
    except ValueError:
        fail(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)")
    refs = [ref.strip() for ref in meeting.split(",") if ref.strip()]
    front_matter = {
        "report_symbol": symbol,
        "agenda_item": agenda_item,
        "agenda_item_title": agenda_item_title,
        "agenda_symbol": agenda_symbol,
        "report_introduction": introduction,
        "report_possible_action": possible_action,
    }
    changes = {key: value or None for key, value in front_matter.items() if value is not None}
    if changes and len(refs) != 1:
        fail("front-matter options are stored on one meeting: give a single meeting")

    async def work(session: AsyncSession) -> tuple[bytes, str]:
        meetings = [await get_meeting(session, ref) for ref in refs]
        for name, value in changes.items():
            setattr(meetings[0], name, value)
        await session.flush()
        built = await build_report(session, meetings, day, variant=variant, lang=lang)
        content, _, filename = render(built, format)
        return content, filename

    content, filename = run_in_transaction(work)
    if output == "-":
        sys.stdout.buffer.write(content)
        return
    target = Path(output or filename)
    target.write_bytes(content)
    typer.echo(f"wrote {target} ({len(content)} bytes, as of {day.isoformat()})")


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration (alembic upgrade head)."""
    from cli.runner import migrate as upgrade

    upgrade(get_settings().database_url)
    typer.echo("database at the latest migration")


@app.command()
def worker(
    only: Annotated[
        str | None,
        typer.Option(
            help="Run one part: 'workflows' (workflows and their DB writes) or 'notifications' "
            "(mail and webhook sends); both by default"
        ),
    ] = None,
) -> None:
    """Run a Temporal worker for every workflow and activity of the service."""
    from workflows.worker import WorkerPart, main

    try:
        parts = (WorkerPart(only),) if only else tuple(WorkerPart)
    except ValueError:
        raise typer.BadParameter(f"--only: one of {', '.join(WorkerPart)}") from None
    main(parts)


@app.command()
def check(
    repair: Annotated[
        bool,
        typer.Option(
            help="Start missing workflows; restart drifted ones "
            "from the database row; recount the activity "
            "counts, the activities' conventions keys and the transition log's rollups."
        ),
    ] = False,
) -> None:
    """Compare every activity's database row with its Temporal workflow, the dashboard's
    activity counts with the activities, the activities' conventions keys with their links, and
    the oversight views' rollups with the transition log; report (and repair) drift. Say how
    many notification events wait in the outbox, and why when they keep failing."""
    from services.outbox import backlog
    from workflows.client import connect
    from workflows.consistency import check_all, check_counts, check_keys, check_rollups

    settings = get_settings()

    async def main() -> tuple[int, list[str], list[str], list[str], list[str], bool, str]:
        engine = create_engine(settings.database_url)
        try:
            client = await connect(settings)
            checked, drifts = await check_all(client, session_factory(engine), settings, repair=repair)
            count_drifts = await check_counts(session_factory(engine), repair=repair)
            key_drifts = await check_keys(session_factory(engine), repair=repair)
            rollup_drifts = await check_rollups(session_factory(engine), repair=repair)
            async with session_factory(engine)() as session:
                outbox = await backlog(session)
        finally:
            await engine.dispose()
        repaired = (
            all(d.repaired for d in drifts)
            and all(d.repaired for d in count_drifts)
            and all(d.repaired for d in key_drifts)
            and all(d.repaired for d in rollup_drifts)
        )
        return (
            checked,
            [d.line() for d in drifts],
            [d.line() for d in count_drifts],
            [d.line() for d in key_drifts],
            [d.line() for d in rollup_drifts],
            repaired,
            outbox.line(),
        )

    checked, lines, count_lines, key_lines, rollup_lines, repaired, outbox_line = asyncio.run(main())
    for line in [*lines, *count_lines, *key_lines, *rollup_lines]:
        typer.echo(line)
    typer.echo(f"{checked} activities checked, {len(lines)} with drift")
    typer.echo(f"activity counts: {len(count_lines)} keys with drift")
    typer.echo(f"activity conventions keys: {len(key_lines)} activities with drift")
    typer.echo(f"transition log rollups: {len(rollup_lines)} rows with drift")
    typer.echo(outbox_line)  # news, not drift: events wait there until sent
    if (lines or count_lines or key_lines or rollup_lines) and not repaired:
        raise typer.Exit(1)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Load the demo data set (at its real dates).")] = True,
) -> None:
    """Run the whole system on this machine: migrations, data, Temporal dev server, worker, API."""
    from cli.runner import up as run_everything

    run_everything(get_settings(), host=host, port=port, demo=demo)


docs_app = typer.Typer(no_args_is_help=True, help="Documentation generated from the code.")
app.add_typer(docs_app, name="docs")


@docs_app.command("stages")
def docs_stages() -> None:
    """Print docs/stages.md: the stage machine table and its guards."""
    from core.stages import markdown

    typer.echo(markdown(), nl=False)


@docs_app.command("env")
def docs_env() -> None:
    """Print .env.example: the compose variables and every setting with its default."""
    from cli.env_example import render

    typer.echo(render(), nl=False)


if __name__ == "__main__":  # `python -m cli.main` works before the package is installed
    app()
