"""`poam system`: add, set and list systems (authorization boundaries)."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, user_option
from poam.cli.root import cli
from poam.errors import PoamError
from poam.services import systems


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
    default="fedramp-rev5",
    show_default=True,
    metavar="NAME|FILE.toml",
    help="Rule set that sets deadlines: fedramp-cr26, bod-26-04, fedramp-rev5, cms, dod, or a day table FILE.toml.",
)
@click.option(
    "--class", "fedramp_class", metavar="b|c|d", help="FedRAMP Rev5 class (fedramp-cr26; default from --impact)."
)
@click.option(
    "--fallback",
    metavar="NAME",
    help="Day table for findings without a CVE under bod-26-04 (default fedramp-rev5).",
)
@click.option("--id-prefix", default="V-", show_default=True, help="POA&M id prefix.")
@click.option("--fedramp-id", help="FedRAMP package id (OSCAL system-id).")
@click.option("--poc", help="Default point of contact for new items.")
@click.option("--service", "services", multiple=True, help="Service name (repeat for several).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def system_add(
    ctx: click.Context,
    name: str,
    impact: str,
    org: str | None,
    policy: str,
    fedramp_class: str | None,
    fallback: str | None,
    id_prefix: str,
    fedramp_id: str | None,
    poc: str | None,
    as_json: bool,
    user: str,
    services: tuple[str, ...],
    db: str | None,
) -> None:
    """Add a system named NAME."""
    info = systems.add_system(
        _engine(ctx, db),
        name,
        user,
        impact=impact,
        org=org,
        policy=policy,
        fedramp_class=fedramp_class,
        fallback=fallback,
        id_prefix=id_prefix,
        fedramp_id=fedramp_id,
        point_of_contact=poc,
        service_names="\n".join(services) or None,
    )
    if as_json:
        _json(_system_json(info))
        return
    _say(f"added system {info.name} ({info.impact} impact, {_rules(info)}, ids {info.id_prefix}<n>)")


def _system_json(info: systems.SystemInfo) -> dict[str, object]:
    return {k: v for k, v in asdict(info).items() if k != "policy_table"}


def _rules(info: systems.SystemInfo) -> str:
    if info.policy == "fedramp-cr26":
        return f"policy fedramp-cr26, Class {(info.fedramp_class or '?').upper()}"
    if info.policy == "bod-26-04":
        return f"policy bod-26-04 (without a CVE: {info.fallback_policy or 'fedramp-rev5'})"
    return f"policy {info.policy}"


@system_group.command("set")
@click.argument("name")
@click.option("--public-cidr", "cidrs", multiple=True, metavar="CIDR", help="An address range that is public (repeat).")
@click.option("--public-domain", "domains", multiple=True, metavar="SUFFIX", help="A public host name suffix (repeat).")
@click.option("--clear-public-rules", is_flag=True, help="Remove the system's public rules.")
@click.option(
    "--policy", metavar="NAME|FILE.toml", help="Rule set: fedramp-cr26, bod-26-04, fedramp-rev5, cms, dod, FILE.toml."
)
@click.option("--class", "fedramp_class", metavar="b|c|d", help="FedRAMP Rev5 certification class (fedramp-cr26).")
@click.option("--fallback", metavar="NAME", help="Day table for findings without a CVE under bod-26-04.")
@click.option(
    "--auto-approve",
    "auto_approve",
    type=click.Choice(["yes", "no"]),
    help="Whether the AO approved an automated risk adjustment process (allows `deviation request --auto-approve`).",
)
@click.option(
    "--cpo-uri",
    "cpo_uri",
    metavar="URI",
    help="The Certification Package Overview's URI (https://...), written in the FedRAMP VER reports.",
)
@click.option("--org", metavar="TEXT", help="Organization (the CSP) for the deliverables' headers (empty: clear).")
@click.option("--fedramp-id", "fedramp_id", metavar="ID", help="FedRAMP package id (OSCAL system-id; empty: clear).")
@click.option("--poc", metavar="TEXT", help="Default point of contact for new items (empty: clear).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def system_set(
    ctx: click.Context,
    name: str,
    cidrs: tuple[str, ...],
    domains: tuple[str, ...],
    clear_public_rules: bool,
    policy: str | None,
    fedramp_class: str | None,
    fallback: str | None,
    auto_approve: str | None,
    cpo_uri: str | None,
    org: str | None,
    fedramp_id: str | None,
    poc: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Set a system's rule set (--policy, --class, --fallback) or its rules for public exposure:
    assets in these ranges or under these domains are public unless a person or the inventory
    classified them (each option replaces its list). Deadlines are computed again; changes audited."""
    public = bool(cidrs or domains or clear_public_rules)
    rules = policy is not None or fedramp_class is not None or fallback is not None
    given = {"org": org, "fedramp_id": fedramp_id, "point_of_contact": poc}
    details = {k: v for k, v in given.items() if v is not None}
    if not (public or rules or auto_approve or cpo_uri is not None or details):
        raise PoamError(
            "give --policy, --class, --fallback, --public-cidr, --public-domain, --clear-public-rules, "
            "--auto-approve, --cpo-uri, --org, --fedramp-id or --poc"
        )
    done = systems.configure(
        _engine(ctx, db),
        name,
        user,
        policy=policy,
        cls=fedramp_class,
        fallback=fallback,
        cidrs=[] if clear_public_rules else (list(cidrs) if cidrs else None),
        domains=[] if clear_public_rules else (list(domains) if domains else None),
        auto_approve=None if auto_approve is None else auto_approve == "yes",
        cpo_uri=cpo_uri,
        details=details,
    )
    if as_json:
        _json(
            {
                **_system_json(done.info),
                "deadlines_changed": done.changed,
                "public_cidrs": done.cidrs,
                "public_domains": done.domains,
            }
        )
        return
    if rules:
        _say(f"{done.info.name}: {_rules(done.info)}; deadlines of {done.changed} open item(s) changed")
    if auto_approve:
        state = "allowed (AO-approved process recorded)" if done.info.auto_approve else "not allowed"
        _say(f"{name}: auto-approved risk adjustments {state}")
    if cpo_uri is not None:
        _say(f"{name}: Certification Package Overview URI {done.info.cpo_uri}")
    if details:
        info = done.info
        shown = {"org": info.org, "fedramp_id": info.fedramp_id, "point_of_contact": info.point_of_contact}
        _say(f"{name}: " + "; ".join(f"{k.replace('_', ' ')} {shown[k] or '(none)'}" for k in details))
    if public:
        _say(
            f"{name}: public ranges {', '.join(done.cidrs) or 'none'}; "
            f"public domains {', '.join(done.domains) or 'none'}"
        )


@system_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def system_remove(ctx: click.Context, name: str, yes: bool, as_json: bool, user: str, db: str | None) -> None:
    """Delete the system NAME and everything recorded for it (the audit log keeps its events)."""
    if not yes:
        click.confirm(
            f"Delete system {name!r} with all its scans, assets, findings and items? This cannot be undone",
            abort=True,
            err=True,
        )
    counts = systems.remove_system(_engine(ctx, db), name, user)
    if as_json:
        _json({"removed": name, **counts})
        return
    _say(
        f"removed system {name} ({counts.get('items', 0)} items, {counts.get('findings', 0)} findings, "
        f"{counts.get('scans', 0)} scans, {counts.get('assets', 0)} assets)"
    )


@system_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def system_list(ctx: click.Context, as_json: bool, db: str | None) -> None:
    """List the systems with their open and closed item counts."""
    found = systems.list_systems(_engine(ctx, db))
    if as_json:
        _json([_system_json(s) for s in found])
        return
    if not found:
        click.echo("no systems yet: import a scan or run `poam system add NAME`")
        return
    table = Table("Name", "Impact", "Policy", "Class", "Org", "Open", "Closed")
    for s in found:
        row = (
            s.name,
            s.impact,
            s.policy,
            (s.fedramp_class or "").upper() if s.policy == "fedramp-cr26" else "",
            s.org or "",
            s.open_items,
            s.closed_items,
        )
        table.add_row(*map(_cell, row))
    _console().print(table)
