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
is the statement's `timestamp` (else its `last_updated`), else the document's (`timestamp`, else
`last_updated`), else `--scan-date`, else the file's modification time, at full precision: when
statements disagree about one vulnerability and product, the newest decides (on equal times, the
affected one). A VEX document is not a scan of its products: it gives no coverage and closes
only what it says is not affected or fixed. A file may hold several documents, written one
after another or one per line: one import.

Lenient on values: a status OpenVEX does not define is read as set aside when it says so
(`false_positive`, `ignored`...: left out) and as affected otherwise, with a warning; a statement
that is not an object, or has no vulnerability name (or one longer than 200 characters) or no
products, and a product without `@id`, are left out with a warning. A document without
`statements`, or whose `statements` is not a list, is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote

from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import as_dict, as_list, text

TOOL = "OpenVEX"
MAX_ID = 200
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
        """Yield one finding per statement and product of the document (or of each of several
        written one after another or one per line), then one scan."""
        labels: list[str | None] = []
        times: list[dt.datetime] = []
        assets: dict[str, Asset] = {}
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        for n, doc in enumerate(jsonio.documents(stream, ctx.source), start=1):
            where = f"document {n}: " if n > 1 else ""
            if not isinstance(doc, dict) or "statements" not in doc:
                raise InputError(ctx.source, f"{where}not an OpenVEX document: no `statements`")
            doc_time = common.parse_time(doc.get("timestamp")) or common.parse_time(doc.get("last_updated"))
            labels.append(text(doc.get("author")) or text(doc.get("@id")))
            latest: dt.datetime | None = None
            statements = as_list(doc.get("statements"), ctx.source, f"{where}statements")
            for m, raw in enumerate(statements, start=1):
                for finding in self._statement(raw, f"{where}statement {m}", doc_time, assets, weaknesses, ctx):
                    latest = max(latest, finding.observed_at) if latest else finding.observed_at
                    yield finding
            times += [t for t in (doc_time or latest,) if t]
        label = labels[0] if len(set(labels)) == 1 else ", ".join(dict.fromkeys(x for x in labels if x)) or None
        yield Scan(TOOL, None, label[:500] if label else None, min(times, default=None), max(times, default=None))

    def _statement(
        self,
        raw: object,
        record: str,
        doc_time: dt.datetime | None,
        assets: dict[str, Asset],
        weaknesses: dict[tuple[str, Severity], Weakness],
        ctx: ParseContext,
    ) -> Iterator[Finding]:
        """The findings of one statement: one per product (and subcomponent); a statement that
        cannot be read is left out with a warning."""
        if not isinstance(raw, dict):
            ctx.skip(record, "not an object")
            return
        st = raw
        vuln = st.get("vulnerability")
        vuln_id = text(vuln) or text(as_dict(vuln).get("name")) or text(as_dict(vuln).get("@id"))
        if vuln_id:
            record = f"{record} ({vuln_id[:60]})"
        status_word = (text(st.get("status")) or "").lower()
        if not vuln_id:
            ctx.skip(record, "no vulnerability name")
            return
        if len(vuln_id) > MAX_ID:
            ctx.skip(record, f"vulnerability name longer than {MAX_ID} characters")
            return
        if status_word in _STATUS:
            status, rated = _STATUS[status_word]
        elif common.dismissed(status_word):
            ctx.warn(record, f"status {status_word[:40]!r} is not an OpenVEX status; read as set aside and left out")
            return
        else:
            status, rated = common.odd_status(ctx, record, st.get("status")), Severity.MEDIUM
        products = st.get("products")
        if not isinstance(products, list) or not products:
            ctx.skip(record, "no products" if not products else "products is not a list")
            return
        when = (
            common.parse_time(st.get("timestamp"))
            or common.parse_time(st.get("last_updated"))
            or doc_time
            or ctx.fallback_time()
        )
        weakness = weaknesses.get((vuln_id, rated))
        if weakness is None:
            weakness = weaknesses[(vuln_id, rated)] = _weakness(vuln_id, as_dict(vuln), st, rated)
        notes = [f"status {status_word}"]
        for key in ("justification", "impact_statement", "action_statement"):
            if text(st.get(key)):
                notes.append(f"{key} {text(st.get(key))}")
        for k, product in enumerate(products, start=1):
            pid = text(product) or text(as_dict(product).get("@id"))
            if not pid:
                ctx.skip(f"{record} product {k}", "no @id")
                continue
            asset = assets.get(pid)
            if asset is None:
                asset = assets[pid] = _asset(pid)
            subs = [text(s) or text(as_dict(s).get("@id")) for s in _subcomponents(product, st)]
            wheres: list[str | None] = [s for s in subs if s]
            for sub in wheres or [None]:
                path = (sca.purl_name(sub) or sub) if sub else None
                evidence = "; ".join([f"product {pid}", *([f"subcomponent {sub}"] if sub else []), *notes])
                yield Finding(weakness, asset, when, evidence=evidence, status=status, path=path)


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
