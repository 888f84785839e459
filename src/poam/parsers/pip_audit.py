"""`pip-audit -f json`: the old form (a top-level array of dependencies) and the new one
(`{"dependencies": [...], "fixes": [...]}`). A file may hold several reports, concatenated or one
per line (several runs appended): they are one import of the one project.

One finding per vulnerability id and package: the PYSEC id among the id and its aliases, else
the GHSA one, else the id (so that the PyPI and OSV services name a finding alike); CVE aliases
are kept as CVEs. The location is the package name (normalized as PyPI does: lower case, runs
of `-_.` as `-`); installed version and fix versions go in the evidence. pip-audit gives no severity: every
finding is rated Moderate (medium) until someone adjusts it. An audit covers every dependency of
the project, so the file covers the project: the asset is `--asset`, else `pip-audit project`
(which covers nothing). No dates in the file: `--scan-date`, else the file's modification time.

A dependency pip-audit skipped (`skip_reason`: not on the index, a local version, an index error)
was not audited: it is no finding, and no fix either; it is warned (with pip-audit's reason), and
the file never closes a finding of that package by its absence (`Scan.partial_paths`); the rest
of the project closes as usual. A dependency without a name keeps its vulnerabilities under
`(unknown package)`, warned: a fallback identity, so the file then covers nothing either (the
findings such a dependency normally has are not in the file under their own identity). A
dependency that is not an object or has no `vulns` list (and no `skip_reason`), and a
vulnerability that is not an object or has no id, are left out with a warning, and the file then
covers nothing (their absence proves no fix).

A bare empty array `[]` is not claimed by detection (other tools write it too): import it with
`--format pip-audit`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import arr, obj, peek, repository, text
from poam.parsers.sca import UNKNOWN_PACKAGE, Collector, Dating, window

TOOL = "pip-audit"
FALLBACK_ASSET = "pip-audit project"
DEFAULT_SEVERITY = Severity.MEDIUM
"""pip-audit rates nothing: Moderate (medium) is the default, as `maps_to` says."""
_ITEM = {"name", "version", "vulns"}
_SKIPPED = {"name", "skip_reason"}
NOT_AUDITED = "a dependency was not audited; no coverage, so this file closes nothing on it"
"""The warning on the project when pip-audit skipped a dependency (`skip_reason`)."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PipAuditParser:
    """Reader of pip-audit JSON reports."""

    id = "pip-audit"
    name = "pip-audit JSON (-f json, old array and new object forms)"
    maps_to = (
        "one finding per vulnerability id (PYSEC/GHSA) and package on --asset or 'pip-audit project'; "
        "severity Moderate (pip-audit gives none); a skipped dependency (not audited) is warned and "
        "its findings are never closed by the file"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An array of `{name, version, vulns}` or `{name, skip_reason}`, or an object with only
        `dependencies` (and `fixes`) whose first dependency looks so."""
        shape = head.json
        if shape.kind == "array":
            return shape.item_keys >= _ITEM or shape.item_keys >= _SKIPPED
        if shape.kind != "object" or "dependencies" not in shape.keys or not shape.keys <= {"dependencies", "fixes"}:
            return False
        keys, _values = peek(head.data)
        first = keys.get("dependencies.item")
        if first is None:  # no dependency seen: an empty list, or one cut short
            return re.search(rb'"dependencies"\s*:\s*\[\s*\]', head.data) is not None
        return first >= _ITEM or first >= _SKIPPED

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Coverage of the project, a finding per vulnerability and package, then the scan."""
        docs = list(jsonio.documents(stream, ctx.source))
        dependencies: list[tuple[str, Any]] = []
        for d, doc in enumerate(docs, start=1):
            what = f"report {d} is not" if len(docs) > 1 else "not"
            if isinstance(doc, dict):
                if "dependencies" not in doc:
                    raise InputError(ctx.source, f"{what} a pip-audit report (no dependencies list)")
                doc = doc["dependencies"]
            if not isinstance(doc, list):
                raise InputError(ctx.source, f"{what} a pip-audit report (a list of dependencies expected)")
            prefix = f"report {d}: " if len(docs) > 1 else ""
            dependencies += [(f"{prefix}dependency {n}", dep) for n, dep in enumerate(doc, start=1)]
        asset = repository(None, ctx, FALLBACK_ASSET)
        dating = Dating(ctx, None)
        weaknesses: dict[str, Weakness] = {}
        seen: set[tuple[str, str]] = set()
        found: list[Finding] = []
        gaps = Collector()  # what the file did not check: then it covers nothing
        not_audited: list[str] = []  # packages pip-audit skipped: their findings are not closed
        for record, dep in dependencies:
            if not isinstance(dep, dict):
                gaps.skip(ctx, record, "not an object")
                continue
            name = text(dep.get("name"))
            if name is not None:
                record = f"{record} ({name})"
            if "skip_reason" in dep and "vulns" not in dep:
                reason = (text(dep.get("skip_reason")) or "no reason given")[:300]
                if name is None:  # a package poam cannot name: nothing in the project is proven fixed
                    problem = f"pip-audit could not audit it ({reason}); the file gives the project no coverage"
                    gaps.withhold(ctx, record, problem, NOT_AUDITED)
                else:  # its findings are never closed by this file's silence about them
                    not_audited.append(_canonical(name))
                    ctx.warn(record, f"pip-audit could not audit it ({reason}); its findings stay as they are")
                continue
            vulns = dep.get("vulns")
            if not isinstance(vulns, list):
                gaps.skip(ctx, record, "no vulns list")
                continue
            if name is None:
                problem = f"no name; its vulnerabilities are kept under {UNKNOWN_PACKAGE!r}"
                if vulns:
                    gaps.fallback(ctx, record, problem)
                else:
                    ctx.warn(record, problem)
            package = _canonical(name) if name else UNKNOWN_PACKAGE
            version = text(dep.get("version")) or "(version not given)"
            for n, vuln in enumerate(vulns, start=1):
                reported = text(obj(vuln).get("id"))
                if reported is None:
                    gaps.skip(
                        ctx, f"{record}, vulnerability {n}", "not an object" if not isinstance(vuln, dict) else "no id"
                    )
                    continue
                vuln_id = _canonical_id(reported, arr(obj(vuln).get("aliases")))
                if (vuln_id, package) in seen:
                    continue
                seen.add((vuln_id, package))
                weakness = weaknesses.get(vuln_id)
                if weakness is None:
                    weakness = weaknesses[vuln_id] = _weakness(vuln, vuln_id, package)
                fixes = [f for f in (text(v) for v in arr(obj(vuln).get("fix_versions"))) if f]
                fixed = ", ".join(fixes) or "no fixed version yet"
                evidence = f"Installed: {name or package} {version}\nFixed in: {fixed}"
                evidence += f"\nReported as: {reported}" if reported != vuln_id else ""
                found.append(Finding(weakness, asset, dating.time(), path=package, evidence=evidence))
        if asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
            if gaps.incomplete:
                ctx.warn(f"asset {asset.name}", gaps.why)
            else:
                yield Coverage(asset, dating.time(), dating.time(), None, Checks.VULNERABILITY)
        yield from found
        started, ended = window([dating])
        yield Scan(TOOL, None, None, started, ended, partial_paths=tuple(dict.fromkeys(not_audited)))


def _canonical_id(reported: str, aliases: list[Any]) -> str:
    """The PYSEC id among the id and its aliases, else the GHSA one, else the id: pip-audit's
    vulnerability services (PyPI, OSV) may report the same advisory under either name."""
    names = [reported, *(a for a in (text(x) for x in aliases) if a)]
    for prefix in ("PYSEC-", "GHSA-"):
        found = next((n for n in names if n.upper().startswith(prefix)), None)
        if found:
            return found
    return reported


def _weakness(vuln: dict[str, Any], vuln_id: str, package: str) -> Weakness:
    aliases = [a for a in (text(x) for x in [vuln.get("id"), *arr(vuln.get("aliases"))]) if a and a != vuln_id]
    fixes = [f for f in (text(v) for v in arr(vuln.get("fix_versions"))) if f]
    see_also = [f"https://osv.dev/vulnerability/{v}" for v in (vuln_id, *aliases) if re.match(r"^[\w-]+$", v)]
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=f"{vuln_id} in {package}",
        severity=DEFAULT_SEVERITY,
        description=text(vuln.get("description")),
        solution=f"Upgrade {package} to a fixed version: {', '.join(fixes)}." if fixes else None,
        see_also="\n".join(see_also[:1]) or None,
        cves=common.cves_in(vuln_id, aliases),
    )
