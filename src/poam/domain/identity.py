"""Identity: which findings are the same finding, which items they belong to, which assets match.

A finding's key is built from the tool, the scanner's vulnerability id, the asset and the location.
It never includes free text (plugin output, timestamps), which changes from scan to scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from poam.domain.models import Asset, AssetKind, Finding, Severity, Weakness, location_text

# Weights for matching hosts: stronger identifiers count for more.
_WEIGHTS = {"fqdn": 8, "netbios": 4, "mac": 2, "ip": 1}
# Identifiers that tell two hosts apart when both sides have them and they differ.
_DISTINCT = ("fqdn", "netbios", "mac")


def _escape(part: str) -> str:
    return part.replace("\\", "\\\\").replace("|", "\\|")


def finding_key(tool: str, vuln_id: str, asset_ref: str, location: str) -> str:
    """The identity of a finding: tool | vulnerability id | asset | port/protocol."""
    return "|".join(_escape(p) for p in (tool.lower(), vuln_id, asset_ref, location.lower()))


def finding_identity(
    weakness_ref: int, asset_ref: int, port: int | None, protocol: str | None, path: str | None = None
) -> tuple[int, int, str]:
    """`finding_key` as the store holds it: the weakness (system, tool and vulnerability id) and
    asset by their ids, and the location (`443/tcp`, a path, or empty for asset-wide results)."""
    return (weakness_ref, asset_ref, location_text(port, protocol, path))


def item_key(weakness: Weakness) -> tuple[str, str]:
    """FedRAMP: one open item per detector and scanner vulnerability id (within a system)."""
    return (weakness.tool, weakness.vuln_id)


def group_findings(findings: Iterable[Finding]) -> dict[tuple[str, str], list[Finding]]:
    """Findings grouped as POA&M items group them: by detector and vulnerability id, never mixing
    two vulnerabilities in one item; informational results are not weaknesses and are left out."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.weakness.severity is not Severity.INFO:
            groups.setdefault(item_key(f.weakness), []).append(f)
    return groups


def normalize(asset: Asset) -> Asset:
    """Canonical spelling of identifiers: lower-case FQDN and MAC, upper-case NetBIOS; a web
    application's origin with lower-case scheme and host and no trailing slash."""
    if asset.kind is not AssetKind.HOST:
        name = (asset.name or "").strip()
        if asset.kind is AssetKind.WEB_APP:
            name = web_origin(name)
        return replace(asset, name=name or None)
    fqdn = asset.fqdn.strip().rstrip(".").lower() if asset.fqdn else None
    netbios = asset.netbios.strip().upper() if asset.netbios else None
    mac = _macs_text(asset.mac) if asset.mac else None
    ip = asset.ip.strip().lower() if asset.ip else None
    return replace(asset, fqdn=fqdn or None, netbios=netbios or None, mac=mac or None, ip=ip or None)


def web_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, default ports dropped."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rstrip("/").lower()
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].lower()
    scheme = scheme.lower()
    if (scheme, host.rpartition(":")[2]) in (("http", "80"), ("https", "443")):
        host = host.rpartition(":")[0]
    return f"{scheme}://{host}"


def web_path(url: str) -> str:
    """The path of a URL without query or fragment (`/` at least)."""
    _scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "/"
    path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path.split("?", 1)[0].split("#", 1)[0] or "/"


def _macs(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset()
    parts = value.replace(",", "\n").replace(";", "\n").split()
    return frozenset(p.strip().lower().replace("-", ":") for p in parts if p.strip())


def _macs_text(value: str) -> str:
    return "\n".join(sorted(_macs(value)))


def _values(asset: Asset, field: str) -> frozenset[str]:
    if field == "mac":
        return _macs(asset.mac)
    value = getattr(asset, field)
    return frozenset([value]) if value else frozenset()


def match_score(observed: Asset, known: Asset) -> int:
    """How strongly two host records agree; 0 when they disagree on a distinguishing identifier."""
    score = 0
    for field, weight in _WEIGHTS.items():
        a, b = _values(observed, field), _values(known, field)
        if not a or not b:
            continue
        if a & b:
            score += weight
        elif field in _DISTINCT:
            return 0
    return score


def match_asset(observed: Asset, candidates: Sequence[tuple[int, Asset]]) -> int | None:
    """The id of the known asset this observation is, or None for a new asset.

    Hosts: the strongest identifier wins. Hosts that share an IP but have different FQDNs,
    NetBIOS names or MAC addresses are different hosts; a host whose IP changed keeps its FQDN.
    Other kinds of asset (web applications) are the same when kind and name are equal, and so
    are hosts that a tool names without any address.
    """
    best: tuple[int, int] | None = None
    for ident, known in candidates:
        if known.kind is not observed.kind:
            continue
        if observed.kind is not AssetKind.HOST:
            score = 1 if observed.name and known.name == observed.name else 0
        elif not (observed.ip or observed.fqdn or observed.netbios or observed.mac):
            # A host known only by a name (an agent's machine id): the same name, nothing else.
            score = 1 if observed.name and known.name == observed.name else 0
        else:
            score = match_score(observed, known)
        if score and (best is None or score > best[0] or (score == best[0] and ident < best[1])):
            best = (score, ident)
    return best[1] if best else None


def merge(known: Asset, observed: Asset, newer: bool = True) -> Asset:
    """The known host enriched with what this observation adds. IP and OS change over time: the
    observation's win only when it is `newer` than what is known."""
    macs = _macs(known.mac) | _macs(observed.mac)
    if not newer:
        observed = replace(observed, ip=known.ip or observed.ip, os=known.os or observed.os)
    return replace(
        known,
        ip=observed.ip or known.ip,
        fqdn=known.fqdn or observed.fqdn,
        netbios=known.netbios or observed.netbios,
        mac="\n".join(sorted(macs)) or None,
        name=known.name or observed.name,
        os=observed.os or known.os,
    )
