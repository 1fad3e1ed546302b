"""`ussd-app copy export FILE.csv` and `ussd-app copy import FILE.csv` (README "Copy review")."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from ussd_app import sms_texts
from ussd_app.config import Settings
from ussd_app.copy_kit.importer import CopyError, Sources, export_csv, import_csv

_MENUS = click.option(
    "--menus", "menus_path", type=click.Path(dir_okay=False), help="menus.yaml (default: settings)"
)
_TEXTS = click.option(
    "--texts",
    "texts_path",
    type=click.Path(dir_okay=False),
    help="the SMS texts file (default: ussd_app/sms_texts.yaml)",
)


def add_copy_commands(main: click.Group, settings: Callable[[], Settings]) -> click.Group:
    """Add the `copy` group to `main`; returns it."""

    def sources(menus_path: str | None, texts_path: str | None) -> Sources:
        import handlers

        current = settings()
        return Sources(
            menus=Path(menus_path or current.menus_path),
            texts=Path(texts_path) if texts_path else sms_texts.PATH,
            known_handlers=frozenset(handlers.load_all()),
            budget=current.screen_budget,
        )

    @main.group("copy")
    def copy_group() -> None:
        """Copy review: every handset and SMS text to a CSV, and reviewed edits back."""

    @copy_group.command("export")
    @click.argument("file", type=click.Path(dir_okay=False))
    @_MENUS
    @_TEXTS
    def copy_export(file: str, menus_path: str | None, texts_path: str | None) -> None:
        """Write FILE.csv: id, language, text, review note, septets left, one row per string."""
        src = sources(menus_path, texts_path)
        try:
            count = export_csv(src, Path(file))
        except CopyError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{file}: {count} strings from {src.menus} and {src.texts}")

    @copy_group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @_MENUS
    @_TEXTS
    @click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
    def copy_import(
        file: str, menus_path: str | None, texts_path: str | None, dry_run: bool
    ) -> None:
        """Check each edited row of FILE.csv, write the accepted ones back; exit 1 on a reject."""
        src = sources(menus_path, texts_path)
        try:
            report = import_csv(src, Path(file), dry_run=dry_run)
        except CopyError as exc:
            raise click.ClickException(str(exc)) from None
        for number, reason in report.rejected:
            click.echo(f"{file}: row {number}: rejected: {reason}", err=True)
        for number, id_, lang in report.accepted:
            click.echo(f"{file}: row {number}: accepted: {id_} [{lang}]")
        for note in report.notes:
            click.echo(f"  note: {note}")
        verb = "would change" if dry_run else "changed"
        written = ", ".join(str(p) for p in report.written) or "nothing written"
        click.echo(
            f"{len(report.accepted)} {verb}, {len(report.rejected)} rejected, "
            f"{report.unchanged} unchanged; {written if not dry_run else 'dry run'}"
        )
        sys.exit(1 if report.rejected else 0)

    return copy_group
