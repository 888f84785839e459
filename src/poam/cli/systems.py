"""`poam system`: add, set and list systems (authorization boundaries)."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option
from poam.cli.root import cli
from poam.domain.policy import POLICIES
from poam.errors import PoamError
from poam.services import audit, systems


@cli.group("system")
def system_group() -> None:
    """Add and list systems (authorization boundaries)."""


@system_group.command("add")
@click.argument("name")
@click.option(
    "--impact",
    type=click.Choice(["low", "moderate", "high"], case_sensitive=False),
    default="moderate",
    show_default=True,
    help="FIPS 199 impact level.",
)
@click.option("--org", help="Organization (the CSP), shown in the workbook header.")
@click.option(
    "--policy",
    type=click.Choice(sorted(POLICIES)),
    default="fedramp-rev5",
    show_default=True,
    help="Remediation policy that sets deadlines.",
)
@click.option("--id-prefix", default="V-", show_default=True, help="POA&M id prefix.")
@click.option("--fedramp-id", help="FedRAMP package id (OSCAL system-id).")
@click.option("--poc", help="Default point of contact for new items.")
@click.option("--service", "services", multiple=True, help="Service name (repeat for several).")
@db_option
@click.pass_context
def system_add(
    ctx: click.Context,
    name: str,
    impact: str,
    org: str | None,
    policy: str,
    id_prefix: str,
    fedramp_id: str | None,
    poc: str | None,
    services: tuple[str, ...],
    db: str | None,
) -> None:
    """Add a system named NAME."""
    info = systems.add_system(
        _engine(ctx, db),
        name,
        audit.default_actor(),
        impact=impact,
        org=org,
        policy=policy,
        id_prefix=id_prefix,
        fedramp_id=fedramp_id,
        point_of_contact=poc,
        service_names="\n".join(services) or None,
    )
    _say(f"added system {info.name} ({info.impact} impact, policy {info.policy}, ids {info.id_prefix}<n>)")


@system_group.command("set")
@click.argument("name")
@click.option("--public-cidr", "cidrs", multiple=True, metavar="CIDR", help="An address range that is public (repeat).")
@click.option("--public-domain", "domains", multiple=True, metavar="SUFFIX", help="A public host name suffix (repeat).")
@click.option("--clear-public-rules", is_flag=True, help="Remove the system's public rules.")
@db_option
@click.pass_context
def system_set(
    ctx: click.Context,
    name: str,
    cidrs: tuple[str, ...],
    domains: tuple[str, ...],
    clear_public_rules: bool,
    db: str | None,
) -> None:
    """Set a system's rules for public exposure: assets in these ranges or under these domains are
    public unless a person or the inventory classified them (each option replaces its list)."""
    if not (cidrs or domains or clear_public_rules):
        raise PoamError("give --public-cidr, --public-domain or --clear-public-rules")
    new_cidrs, new_domains = systems.set_public_rules(
        _engine(ctx, db),
        name,
        [] if clear_public_rules else (list(cidrs) if cidrs else None),
        [] if clear_public_rules else (list(domains) if domains else None),
        audit.default_actor(),
    )
    _say(f"{name}: public ranges {', '.join(new_cidrs) or 'none'}; public domains {', '.join(new_domains) or 'none'}")


@system_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def system_list(ctx: click.Context, as_json: bool, db: str | None) -> None:
    """List the systems with their open and closed item counts."""
    found = systems.list_systems(_engine(ctx, db))
    if as_json:
        _json([asdict(s) for s in found])
        return
    if not found:
        click.echo("no systems yet: import a scan or run `poam system add NAME`")
        return
    table = Table("Name", "Impact", "Policy", "Org", "Open", "Closed")
    for s in found:
        table.add_row(*map(_cell, (s.name, s.impact, s.policy, s.org or "", s.open_items, s.closed_items)))
    _console().print(table)
