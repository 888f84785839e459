"""Snyk CLI `snyk test --json` / `snyk container test --json`: one project object, or an array
of them (`--all-projects`); a file may hold several such results, concatenated or one per line
(the output of several runs appended): they are one import.

One finding per Snyk issue id and package per project: id `id` (`SNYK-JAVA-...`), path
`packageName` (without it, `name`, else the last package of its `from` path, else `(unknown
package)`: a fallback identity, warned, and the project then gets no coverage from the file, since
the finding the issue normally has is not in the file under its own identity; a container issue's
`name` is its binary package, `openssl/libssl3`, where `packageName` is `openssl`). Snyk lists an
issue once per dependency path; those are one finding, the paths (`from`) and versions go to the
evidence. Licence issues (`type: license`) are not weaknesses
and are left out. Severity is `severityWithCritical` (else `severity`): critical, high, medium,
low; a word poam does not know is rated by `cvssScore`, else Moderate, with a warning. CVSS is
`CVSSv3` with `cvssScore`; CVEs and CWEs from `identifiers`; the solution is the `## Remediation`
section of the description, else the `fixedIn` versions.

The asset is the project: a container project (`projectName` `docker-image|repo`) is the image by
its repository without tag; the applications Snyk found inside the image (`applications[]`)
belong to the same image. Other projects are repositories named by `projectName`; a project
without one takes `--asset`, else a fallback name and no coverage. Each named project is
covered (checks: vulnerabilities): a Snyk test reports every issue of the project, unless it ran
with a `severityThreshold` above low (then it covers nothing), or an issue of it could not be
read (left out with a warning), or Snyk could not identify some of its dependencies
(`hasUnknownVersions` of the project or of an application in it: they were not tested; warned).
Issues a Snyk policy ignores (`filtered.ignore`, of the project or of an application in it) are
read as issues are, with the same identity, and set aside: an open finding of one stays open
(the project still has it: not a fix), and none is opened from it; an open issue of a finding
wins over an ignored one.
Snyk writes no scan time: findings are dated by `--scan-date`, else the file's modification time.
A project Snyk could not test (`ok: false` with an `error`) among others is left out with a
warning; a file in which no project could be read is refused (with Snyk's message when it gave one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, Dating, as_dict, as_list, text

TOOL = "Snyk"
_PROJECT_KEYS = {"ok", "projectName", "dependencyCount", "uniqueCount", "packageManager"}
_Draft = tuple[dict[str, Any], Severity, dict[str, str]]  # an issue's first record, worst severity, fixes by package
UNIDENTIFIED = (
    "Snyk could not identify some dependencies (hasUnknownVersions), so they were not tested; "
    "no coverage, so this file closes nothing on the project"
)
"""The warning on a project or application whose test left dependencies out."""
_REMEDIATION = re.compile(r"^#+\s*Remediation\s*$(.*?)(?=^#+\s|\Z)", re.MULTILINE | re.DOTALL | re.IGNORECASE)


class SnykParser:
    """Reader of Snyk CLI JSON test results (open source and container)."""

    id = "snyk"
    name = "Snyk CLI JSON (snyk test / snyk container test)"
    maps_to = "one finding per Snyk issue and package; each tested project or image is an asset"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A project object (or an array of them) with `vulnerabilities` and Snyk's project keys or
        issue keys; or Snyk's error object (`ok` and `error`), in the file's first result."""
        shape = head.json
        issue_keys = all(k in head.text for k in ('"packageName"', '"upgradePath"', '"isUpgradable"'))
        if shape.kind == "object":
            keys = shape.keys
            if {"ok", "error"} <= keys and "vulnerabilities" not in keys:
                return True
            return "vulnerabilities" in keys and (bool(keys & _PROJECT_KEYS) or issue_keys)
        if shape.kind == "array":
            keys = shape.item_keys
            return "vulnerabilities" in keys and (bool(keys & _PROJECT_KEYS) or issue_keys)
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the results, then yield per project asset its coverage and merged findings."""
        docs = list(jsonio.documents(stream, ctx.source))
        entries = [
            (f"{f'result {d}, ' if len(docs) > 1 else ''}project {n}", entry)
            for d, doc in enumerate(docs, start=1)
            for n, entry in enumerate(doc if isinstance(doc, list) else [doc], start=1)
        ]
        dating = Dating(ctx, None)
        assets: dict[Asset, tuple[bool, Collector]] = {}
        drafts: dict[str, _Draft] = {}
        names: list[str] = []
        aside: dict[str, _Draft] = {}  # issues only ignored: their weakness, if no open issue gives it
        errors: list[str] = []
        for record, project in entries:
            problem = _unreadable(project)
            if problem is not None:
                error = _error(project)
                if error is not None:
                    errors.append(error)
                ctx.skip(record, problem)
                continue
            p: dict[str, Any] = project
            asset, named = _asset(p, ctx)
            record = f"{record} ({asset.name})"
            # a run with --severity-threshold above low leaves out what it did not report
            threshold = (text(p.get("severityThreshold")) or "low").lower()
            complete = named and threshold == "low"
            names.append(asset.name or "")
            if asset in assets:
                complete = complete and assets[asset][0]
            found = assets.setdefault(asset, (complete, Collector()))[1]
            parts: list[tuple[str, Any]] = [(record, p)]
            apps = as_list(p.get("applications"), ctx.source, "applications")
            for n, app in enumerate(apps, start=1):
                problem = _unreadable(app)
                if problem is None:
                    parts.append((f"{record}, application {n}", app))
                else:
                    found.skip(ctx, f"{record}, application {n}", problem)
            # Snyk says it could not identify some dependencies: they were not tested
            for where, part in parts:
                if part.get("hasUnknownVersions") is True:
                    ctx.warn(where, UNIDENTIFIED)
                    complete = False
            assets[asset] = (complete, found)
            for where, part in parts:
                for n, v in enumerate(as_list(part.get("vulnerabilities"), ctx.source, "vulnerabilities"), start=1):
                    if isinstance(v, dict):
                        _issue(v, found, drafts, ctx, f"{where}, issue {n}")
                    else:
                        found.skip(ctx, f"{where}, issue {n}", "not an object")
                # issues a Snyk policy ignores: still there, set aside (not open, not fixed)
                ignores = as_list(as_dict(part.get("filtered")).get("ignore"), ctx.source, "filtered.ignore")
                for n, v in enumerate(ignores, start=1):
                    if isinstance(v, dict):
                        _issue(v, found, aside, ctx, f"{where}, ignored issue {n}", FindingStatus.SET_ASIDE)
                    else:
                        found.skip(ctx, f"{where}, ignored issue {n}", "not an object")
        if not assets:
            if errors:
                raise InputError(ctx.source, f"Snyk could not test the project: {errors[0]}")
            raise InputError(ctx.source, "not a Snyk test result: no project object with `vulnerabilities`")
        weaknesses = {vid: _weakness(vid, *d) for vid, d in {**aside, **drafts}.items()}
        for asset, (complete, found) in assets.items():
            if complete and found.incomplete:
                ctx.warn(f"asset {asset.name}", found.why)
            elif complete:
                yield Coverage(asset, dating.time(), dating.time(), None, Checks.VULNERABILITY)
            for s in found.sightings.values():
                evidence = sca.join_evidence(s.evidence)
                weakness = weaknesses[s.vuln_id]
                yield Finding(weakness, asset, dating.time(), evidence=evidence, status=s.status, path=s.path)
        label = names[0] if len(names) == 1 else f"{len(names)} projects"
        started, ended = sca.window([dating])
        yield Scan(TOOL, None, label or None, started, ended)


def _error(value: object) -> str | None:
    """Snyk's message when a value is its object for a project it could not test (`ok: false`
    with an `error`), else None."""
    if not isinstance(value, dict) or not value.get("error") or isinstance(value.get("vulnerabilities"), list):
        return None
    error = value["error"]
    message = text(error) or text(as_dict(error).get("message")) or "unknown error"
    return message.splitlines()[0][:300]


def _unreadable(value: object) -> str | None:
    """Why a project (or application) object cannot be read; None when it can."""
    if not isinstance(value, dict):
        return "not an object"
    error = _error(value)
    if error is not None:
        return f"Snyk could not test it: {error}"
    if "vulnerabilities" not in value:
        return "no `vulnerabilities` list"
    return None


def _asset(p: dict[str, Any], ctx: ParseContext) -> tuple[Asset, bool]:
    name = text(p.get("projectName"))
    if name and name.startswith("docker-image|") or (not name and isinstance(p.get("docker"), dict)):
        image = sca.image_repository(name.split("|", 1)[1] if name else None)
        return Asset(AssetKind.CONTAINER_IMAGE, name=image or ctx.asset_name or UNNAMED), bool(image or ctx.asset_name)
    named = name or ctx.asset_name
    return Asset(AssetKind.REPOSITORY, name=named or text(p.get("path")) or UNNAMED), named is not None


def _last_package(v: dict[str, Any]) -> str | None:
    """The last package of an issue's `from` path without its version (`com.acme:lib@1.2` gives
    `com.acme:lib`, `@scope/x@2` gives `@scope/x`)."""
    via = sca.texts(v.get("from"))
    if not via:
        return None
    last = via[-1]
    return last[: last.rindex("@")] if last.rfind("@") > 0 else last


def _issue(
    v: dict[str, Any],
    found: Collector,
    drafts: dict[str, _Draft],
    ctx: ParseContext,
    record: str,
    status: FindingStatus = FindingStatus.OPEN,
) -> None:
    """One issue (per dependency path) into its finding, and its weakness's draft."""
    if (text(v.get("type")) or "").lower() == "license":
        return
    vuln_id = text(v.get("id"))
    if not vuln_id:
        found.skip(ctx, record, "an issue without id")
        return
    record = f"{record} ({vuln_id})"
    pkg = text(v.get("packageName"))
    if not pkg:  # `name` is the binary package of a container issue (`openssl/libssl3`), not `openssl`
        named, from_path = text(v.get("name")), _last_package(v)
        pkg = named or from_path or sca.UNKNOWN_PACKAGE
        how = " from its name" if named else " from its `from` path" if from_path else ""
        found.fallback(ctx, record, f"no packageName; package {pkg!r}{how}")
    version = text(v.get("version"))
    fixed = ", ".join(sca.texts(v.get("fixedIn"))) or text(v.get("nearestFixedInVersion"))
    parts = [f"{pkg} {version or '(version unknown)'}"]
    if fixed:
        parts.append(f"fixed in {fixed}")
    via = sca.texts(v.get("from"))
    if via:
        parts.append("via " + " > ".join(via))
    found.add(vuln_id, pkg, status, "; ".join(parts))
    word = v.get("severityWithCritical")
    if word is None or word == "":
        word = v.get("severity")
    rated = sca.rated(ctx, record, word, sca.score(v.get("cvssScore")))
    known = drafts.get(vuln_id)
    if known is None:
        drafts[vuln_id] = (v, rated, {pkg: fixed} if fixed else {})
    else:
        drafts[vuln_id] = (known[0], sca.worse(known[1], rated), known[2] | ({pkg: fixed} if fixed else {}))


def _weakness(vuln_id: str, v: dict[str, Any], rated: Severity, fixes: dict[str, str]) -> Weakness:
    ids = as_dict(v.get("identifiers"))
    vector = sca.v3_vector(text(v.get("CVSSv3")))
    description = text(v.get("description"))
    m = _REMEDIATION.search(description or "")
    solution = text(m.group(1)) if m else None
    if not solution and fixes:
        solution = "Upgrade " + "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(fixes.items()))
    refs = [text(as_dict(r).get("url")) for r in sca.items(v.get("references")) if isinstance(r, dict)]
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=text(v.get("title")) or vuln_id,
        severity=rated,
        family=text(v.get("packageManager")) or text(v.get("language")),
        description=description,
        solution=solution,
        see_also="\n".join(dict.fromkeys(r for r in refs if r)) or None,
        cvss3_score=cvss.fill(3, sca.score(v.get("cvssScore")), vector),
        cvss3_vector=vector,
        cves=common.cves_in(sca.texts(ids.get("CVE"))),
        cwes=common.cwes_in(sca.texts(ids.get("CWE"))),
    )
