"""OpenVEX documents (`@context` https://openvex.dev/ns/...): statements about whether products
are affected by vulnerabilities.

One finding per statement, vulnerability and product (and subcomponent): id the vulnerability's
`name` (or `@id`), with its aliases as CVEs. `affected` is an open finding; `not_affected` and
`fixed` are FIXED findings (they close an open finding of the same id and product); statements
`under_investigation` say nothing yet and are yielded as informational (counted, not stored).
OpenVEX gives no severity: an affected statement is rated medium until a scanner rates it.

The asset is the product, named by its package URL without version, qualifiers or subpath, so a
new release of the product keeps its findings: a `pkg:oci` or `pkg:docker` product is the image
(by `repository_url`, else its name; no tag or digest), any other product an OTHER asset named by
the versionless purl (`pkg:apk/alpine/busybox`); a product id that is not a purl is used as
written. A subcomponent is the finding's path (its purl's name, `openssl`); a statement about the
product itself has no path. The tool is `OpenVEX` (the author goes to the scan's name); the time
is the statement's `timestamp`, else the document's. A VEX document is not a scan of its
products: it gives no coverage and closes only what it says is not affected or fixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote

from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import as_dict, as_list, text

TOOL = "OpenVEX"
_STATUS = {
    "affected": (FindingStatus.OPEN, Severity.MEDIUM),
    "not_affected": (FindingStatus.FIXED, Severity.MEDIUM),
    "fixed": (FindingStatus.FIXED, Severity.MEDIUM),
    "under_investigation": (FindingStatus.OPEN, Severity.INFO),
}


class OpenVexParser:
    """Reader of OpenVEX JSON documents."""

    id = "openvex"
    name = "OpenVEX document (JSON)"
    maps_to = "one finding per statement, vulnerability and product; not_affected and fixed statements close findings"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """An object with `@context` naming openvex.dev and `statements`."""
        keys = head.json.keys
        return head.json.kind == "object" and "@context" in keys and "openvex.dev/ns" in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield one finding per statement and product, then the scan."""
        doc = jsonio.load(stream, ctx.source)
        if not isinstance(doc, dict) or "statements" not in doc:
            raise InputError(ctx.source, "not an OpenVEX document: no `statements`")
        doc_time = common.parse_time(doc.get("timestamp")) or common.parse_time(doc.get("last_updated"))
        assets: dict[str, Asset] = {}
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        latest = None
        for n, raw in enumerate(as_list(doc.get("statements"), ctx.source, "statements"), start=1):
            st = as_dict(raw)
            vuln = st.get("vulnerability")
            vuln_id = text(vuln) or text(as_dict(vuln).get("name")) or text(as_dict(vuln).get("@id"))
            status_word = (text(st.get("status")) or "").lower()
            if not vuln_id or status_word not in _STATUS:
                raise InputError(ctx.source, f"statement {n}: no vulnerability name or an unknown status")
            status, rated = _STATUS[status_word]
            when = common.parse_time(st.get("timestamp")) or doc_time or ctx.fallback_time()
            latest = max(latest, when) if latest else when
            weakness = weaknesses.get((vuln_id, rated))
            if weakness is None:
                weakness = weaknesses[(vuln_id, rated)] = _weakness(vuln_id, as_dict(vuln), st, rated)
            notes = [f"status {status_word}"]
            for key in ("justification", "impact_statement", "action_statement"):
                if text(st.get(key)):
                    notes.append(f"{key} {text(st.get(key))}")
            products = as_list(st.get("products"), ctx.source, f"statement {n}: products")
            if not products:
                raise InputError(ctx.source, f"statement {n}: no products")
            for product in products:
                pid = text(product) or text(as_dict(product).get("@id"))
                if not pid:
                    raise InputError(ctx.source, f"statement {n}: a product without @id")
                asset = assets.get(pid)
                if asset is None:
                    asset = assets[pid] = _asset(pid)
                subs = [text(s) or text(as_dict(s).get("@id")) for s in _subcomponents(product, st)]
                wheres: list[str | None] = [s for s in subs if s]
                for sub in wheres or [None]:
                    path = (sca.purl_name(sub) or sub) if sub else None
                    evidence = "; ".join([f"product {pid}", *([f"subcomponent {sub}"] if sub else []), *notes])
                    yield Finding(weakness, asset, when, evidence=evidence, status=status, path=path)
        label = text(doc.get("author")) or text(doc.get("@id"))
        yield Scan(TOOL, None, label, doc_time or latest, doc_time or latest)


def _subcomponents(product: object, statement: dict[str, Any]) -> list[Any]:
    """Subcomponents of a product (OpenVEX 0.2), or of the statement (0.0.x)."""
    return sca.items(as_dict(product).get("subcomponents")) or sca.items(statement.get("subcomponents"))


def _asset(product: str) -> Asset:
    """The product: an image for pkg:oci / pkg:docker, else the purl without its version."""
    if not product.lower().startswith("pkg:"):
        return Asset(AssetKind.OTHER, name=product)
    base = sca.purl_base(product)
    kind = base[4:].split("/", 1)[0].lower()
    if kind in {"oci", "docker"}:
        qualifiers = parse_qs(product.split("?", 1)[1].split("#", 1)[0]) if "?" in product else {}
        repo = qualifiers.get("repository_url", [None])[0]
        name = sca.image_repository(unquote(repo) if repo else unquote(base.split("/", 1)[1]))
        if name:
            return Asset(AssetKind.CONTAINER_IMAGE, name=name)
    return Asset(AssetKind.OTHER, name=base)


def _weakness(vuln_id: str, vuln: dict[str, Any], statement: dict[str, Any], rated: Severity) -> Weakness:
    aliases = sca.texts(vuln.get("aliases"))
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=vuln_id,
        severity=rated,
        description=text(vuln.get("description")),
        solution=text(statement.get("action_statement")),
        see_also=text(vuln.get("@id")),
        cves=common.cves_in(vuln_id, aliases),
    )
