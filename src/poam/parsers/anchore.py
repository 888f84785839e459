"""Anchore Enterprise (and Anchore Engine, its open-source predecessor): an image's vulnerability
report and a policy evaluation of an image, in JSON. Anchore's stand-alone scanner Grype has its
own format and parser (`grype`); these are the reports of the Anchore service.

Vulnerability report: the API's `GET /images/{digest}/vuln/all` as `anchore-cli image vuln IMAGE
all` or Enterprise's API write it (`{imageDigest | image_digest, imageFullTag?, vulnerability_type,
vulnerabilities[]}`), or anchorectl's `image vulnerabilities -o json` (a bare array of the same
records with camelCase keys: `packageName`, `feedGroup`...). One finding per vulnerability id and
package: id `vuln` (a CVE, GHSA, RHSA, VULNDB...), path `package_name` (else the name part of
`package`, written `name-version`, else `(unknown package)`, warned). A package found at several
paths (`package_path`) is one finding; versions, fixed version, paths, `inherited_from_base` and
`will_not_fix` go to the evidence; the fixed versions (`fix`, where Anchore writes the text `None`
when there is none) to the solution. Severity is Anchore's word: Critical, High, Medium, Low;
Negligible: informational unless a CVSS score gives a band; Unknown or none: the band of the CVSS
score, else Low; another word: the band, else Moderate, warned. CVSS v3 and v2 come from
`nvd_data` (scores, and vectors from `extra.nvd_data`), else `vendor_data` (Anchore writes -1 for a
score it does not have). The asset is the image by its repository (`imageFullTag`); a report that
names no image (only a digest; anchorectl's array names nothing) takes `--asset`, else a fallback
asset that gets no coverage. A named image is covered for vulnerabilities when the report lists
every kind of package (`vulnerability_type: all`, or anchorectl's array); a report of `os` or
`non-os` packages only lists part of the image and covers nothing (warned). Anchore writes no
time: findings are dated by `--scan-date`, else the file's modification time.

Policy evaluation (`anchore-cli evaluate check IMAGE --detail --json`): `[{digest: {tag:
[{detail{policy, result{final_action, result{<image id>{result{header, rows}}}}}, last_evaluation,
status}]}}]`. Each row is a policy rule that fired (a gate's trigger):
- a `vulnerabilities` gate row whose `Trigger_Id` is `VULN+PACKAGE` is the vulnerability VULN on
  that package, with the identity a vulnerability report gives it: path the package's name (the
  last part after `:` in an archive, `app.jar:jackson-databind`, and for a non-OS package without
  its version and archive suffix: `struts-core-1.3.8.jar` is `struts-core`); severity the word that
  opens `Check_Output`. The policy lists only the vulnerabilities its rules select (by severity,
  fix, age), so an evaluation never shows one fixed: those findings are closed by a later
  vulnerability report of the image, never by a later evaluation.
- any other row is a configuration finding (a policy weakness of the image, such as a Dockerfile
  without HEALTHCHECK or an exposed port): id `gate/trigger` (`dockerfile/instruction`), path the
  row's `Trigger_Id` (Anchore's id of that firing: the vulnerability and package, or a hash of the
  gate, trigger and message), `Check_Output` in the evidence; severity by the rule's action: stop
  High, warn Moderate, go informational; another action Moderate, warned.
- a row whose `Whitelisted` (`Allowlisted`) is set is set aside: an allowlist entry is a person's
  decision, not a fix.
The evaluation covers its image for configuration: a gate finding a later evaluation no longer
reports is fixed. Dated by `last_evaluation`, else the result's `created_at`, else `--scan-date`
or the file's modification time. The image is the evaluation's tag without tag or digest.

A file may hold several reports or evaluations, concatenated or one per line (JSON Lines): one
import. A record that is not an object (a row that is not a list), or has no vulnerability id
(no gate), is left out with a warning and its image then gets no coverage from the file; so does
a record kept under a fallback package.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, Dating, Draft, as_dict, as_list, text

TOOL = "Anchore Enterprise"
MAX_FIXES = 20
"""Packages whose fixed version a weakness's solution lists (each finding's evidence has its own)."""
_REPORT_KEYS = {"imageDigest", "image_digest"}
_DIGEST = re.compile(r"^sha256:[0-9a-f]{16,}$")
_ALL_TYPES = "all"
_VULN_GATES = {"vulnerabilities", "anchoresec"}
_ACTIONS = {"stop": Severity.HIGH, "warn": Severity.MEDIUM, "go": Severity.INFO}
_ARCHIVE = re.compile(r"\.(jar|war|ear|jpi|hpi|zip|egg|whl|gem|tgz)$", re.IGNORECASE)
_VERSION_TAIL = re.compile(r"-v?\d[^-]*$")
_URL = re.compile(r"https?://[^\s)]+")
_COLUMNS = ("Trigger_Id", "Gate", "Trigger", "Check_Output", "Gate_Action")
_NOT_SET = (None, False, "", 0, "false", "False", "none", "None")
PARTIAL_TYPE = "lists {what} packages only (vulnerability_type {kind!r}); no coverage, so this file closes nothing"


@dataclass
class _Target:
    """One report or evaluation of the file: its image, time, what it covers and found."""

    asset: Asset
    named: bool
    dating: Dating
    label: str | None
    checks: Checks | None
    found: Collector = field(default_factory=Collector)


def _get(record: dict[str, Any], snake: str) -> Any:
    """A value under its snake_case key (the API's) or camelCase one (anchorectl's)."""
    if snake in record:
        return record[snake]
    head, *rest = snake.split("_")
    return record.get(head + "".join(part.title() for part in rest))


def _val(value: object) -> str | None:
    """Text, with Anchore's `None` (written as text) as no value."""
    said = text(value)
    return None if said is None or said == "None" else said


class AnchoreEnterpriseParser:
    """Reader of Anchore Enterprise / Engine vulnerability reports and policy evaluations."""

    id = "anchore-enterprise"
    name = "Anchore Enterprise / Engine JSON (image vulnerabilities, policy evaluation)"
    maps_to = (
        "one finding per vulnerability and package, and one configuration finding per policy gate trigger; "
        "the image is the asset"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A vulnerability report (`vulnerabilities` with `vulnerability_type` or an image digest),
        anchorectl's array of vulnerability records, or a policy evaluation keyed by image digest."""
        shape = head.json
        if shape.kind == "object":
            keys = shape.keys
            if "vulnerabilities" in keys and ("vulnerability_type" in keys or keys & _REPORT_KEYS):
                return True
            return _evaluation(keys, head.text)
        if shape.kind == "array":
            items = shape.item_keys
            if {"vuln", "severity"} <= items and bool(items & {"packageName", "package_name", "package"}):
                return bool(items & {"feedGroup", "feed_group", "feed"})
            return _evaluation(items, head.text)
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read every report and evaluation, then yield coverage, merged findings and one scan."""
        docs = list(jsonio.documents(stream, ctx.source))
        targets: list[_Target] = []
        drafts: dict[str, Draft] = {}
        for d, doc in enumerate(docs, start=1):
            prefix = f"document {d}" if len(docs) > 1 else ""
            targets += _document(doc, prefix, drafts, ctx)
        weaknesses = {vid: _weakness(vid, d) for vid, d in drafts.items()}
        gaps: dict[Asset, Collector] = {}
        for t in targets:
            gaps.setdefault(t.asset, Collector()).absorb(t.found)
        incomplete = {asset for asset, gap in gaps.items() if gap.incomplete}
        warned: set[Asset] = set()
        for t in targets:
            if t.asset in incomplete and t.named and t.checks is not None and t.asset not in warned:
                warned.add(t.asset)
                ctx.warn(f"asset {t.asset.name}", gaps[t.asset].why)
        for t in targets:
            if t.named and t.checks is not None and t.asset not in incomplete:
                when = t.dating.time()
                yield Coverage(t.asset, when, when, None, t.checks)
            for s in t.found.sightings.values():
                when = t.dating.time()
                evidence = sca.join_evidence(s.evidence)
                yield Finding(weaknesses[s.vuln_id], t.asset, when, evidence=evidence, status=s.status, path=s.path)
        started, ended = sca.window([t.dating for t in targets])
        yield Scan(TOOL, None, sca.label([t.label for t in targets], "images"), started, ended)


def _evaluation(keys: frozenset[str] | set[str], head_text: str) -> bool:
    """Keys that are image digests, and a policy evaluation's `detail`, `last_evaluation`..."""
    if not keys or not all(_DIGEST.match(k) for k in keys):
        return False
    return any(m in head_text for m in ('"detail"', '"last_evaluation"', '"final_action"', '"policyId"'))


def _document(doc: Any, prefix: str, drafts: dict[str, Draft], ctx: ParseContext) -> list[_Target]:
    """The reports or evaluations of one JSON document."""
    name = prefix or "report"
    if isinstance(doc, dict) and "vulnerabilities" in doc:
        return [_report(doc, as_list(doc["vulnerabilities"], ctx.source, "vulnerabilities"), name, drafts, ctx)]
    if isinstance(doc, list) and any(isinstance(v, dict) and "vuln" in v for v in doc):
        return [_report(None, doc, name, drafts, ctx)]
    evaluations = doc if isinstance(doc, list) else [doc]
    if evaluations and all(isinstance(e, dict) and e and all(_DIGEST.match(k) for k in e) for e in evaluations):
        return [t for e in evaluations for t in _evaluations(e, prefix, drafts, ctx)]
    if isinstance(doc, list) and not doc:
        return []
    what = f"{prefix} is not" if prefix else "not"
    raise InputError(ctx.source, f"{what} an Anchore vulnerability report or policy evaluation")


# --- vulnerability reports ---------------------------------------------------------------------


def _report(
    doc: dict[str, Any] | None, vulns: list[Any], name: str, drafts: dict[str, Draft], ctx: ParseContext
) -> _Target:
    """One image's vulnerability list (`doc` None for anchorectl's bare array)."""
    meta = doc or {}
    tag = _val(_get(meta, "image_full_tag")) or _val(meta.get("tag"))
    digest = _val(_get(meta, "image_digest"))
    image = sca.image_repository(tag)
    asset_name = image or ctx.asset_name
    asset = Asset(AssetKind.CONTAINER_IMAGE, name=asset_name or UNNAMED)
    kind = (_val(_get(meta, "vulnerability_type")) or _ALL_TYPES).lower()
    checks: Checks | None = Checks.VULNERABILITY
    if kind != _ALL_TYPES:
        checks = None
        if asset_name:
            what = "OS" if kind == "os" else "non-OS" if kind == "non-os" else f"{kind!r}"
            ctx.warn(name, PARTIAL_TYPE.format(what=what, kind=kind))
    target = _Target(asset, asset_name is not None, Dating(ctx, None), tag or digest, checks)
    prefix = f"{name}, " if name != "report" else ""
    for n, v in enumerate(vulns, start=1):
        record = f"{prefix}vulnerability {n}"
        if isinstance(v, dict):
            _vulnerability(v, record, target, drafts, ctx)
        else:
            target.found.skip(ctx, record, "not an object")
    return target


def _package(v: dict[str, Any]) -> str | None:
    """The package's name: `package_name`, else `package` without its `-version`."""
    named = _val(_get(v, "package_name"))
    if named:
        return named
    full, version = _val(v.get("package")), _val(_get(v, "package_version"))
    if full and version and full.endswith(f"-{version}") and len(full) > len(version) + 1:
        return full[: -len(version) - 1]
    return None


def _vulnerability(
    v: dict[str, Any], record: str, target: _Target, drafts: dict[str, Draft], ctx: ParseContext
) -> None:
    vuln_id = _val(v.get("vuln"))
    if not vuln_id:
        target.found.skip(ctx, record, "no vuln id")
        return
    record = f"{record} ({vuln_id})"
    pkg = _package(v)
    if not pkg:
        pkg = sca.UNKNOWN_PACKAGE
        target.found.fallback(ctx, record, f"no package_name; package {pkg!r}")
    version = _val(_get(v, "package_version"))
    kind = _val(_get(v, "package_type"))
    parts = [f"{pkg} {version or '(version unknown)'}" + (f" ({kind})" if kind else "")]
    fixed = _val(v.get("fix"))
    if fixed:
        parts.append(f"fixed in {fixed}")
    where = _val(_get(v, "package_path"))
    if where and where != "pkgdb":
        parts.append(f"at {where}")
    if _get(v, "inherited_from_base") is True:
        parts.append("inherited from the base image")
    if _get(v, "will_not_fix") is True:
        parts.append("the vendor will not fix it")
    target.found.add(vuln_id, pkg, FindingStatus.OPEN, "; ".join(parts))
    scores = _cvss(v)
    rated = sca.rated(ctx, record, v.get("severity"), scores["cvss3_score"], scores["cvss2_score"])
    draft = drafts.get(vuln_id)
    if draft is None:
        extra = as_dict(v.get("extra"))
        draft = drafts[vuln_id] = Draft(
            {
                "name": vuln_id,
                "family": _val(_get(v, "feed_group")),
                "description": _val(extra.get("description")) or _val(v.get("description")),
                "see_also": _val(v.get("url")) or _val(extra.get("link")),
                "cves": common.cves_in(vuln_id, [_val(as_dict(r).get("id")) for r in _nvd(v)]),
                **scores,
            },
            rated,
        )
    draft.severity = sca.worse(draft.severity, rated)
    if fixed and len(draft.fixes) < MAX_FIXES:
        draft.fixes.setdefault(pkg, fixed)


def _nvd(v: dict[str, Any]) -> list[Any]:
    return sca.items(_get(v, "nvd_data"))


def _score(entry: dict[str, Any], version: str) -> float | None:
    """A score of `cvss_v3` / `cvss_v2` (or camelCase); Anchore's -1 means none."""
    block = as_dict(_get(entry, f"cvss_{version}"))
    value = _get(block, "base_score")
    if value is None:
        value = _get(as_dict(_get(block, "base_metrics")), "base_score")
    return sca.score(value)


def _cvss(v: dict[str, Any]) -> dict[str, Any]:
    """CVSS v3 and v2 scores and vectors: NVD's records first, then the vendor's."""
    extra = as_dict(v.get("extra"))
    records = [as_dict(r) for r in [*sca.items(extra.get("nvd_data")), *_nvd(v), *sca.items(_get(v, "vendor_data"))]]
    records += [as_dict(r) for r in sca.items(extra.get("vendor_data"))]
    picked: dict[str, tuple[float | None, str | None]] = {}
    for version in ("v3", "v2"):
        for r in records:
            block = as_dict(_get(r, f"cvss_{version}"))
            vector = _val(_get(block, "vector_string"))
            value = _score(r, version)
            if vector or value is not None:
                picked[version] = (value, vector)
                break
        else:
            picked[version] = (None, None)
        if picked[version][1] is None and picked[version][0] is not None:  # a score: look for its vector
            vector = next((_val(_get(as_dict(_get(r, f"cvss_{version}")), "vector_string")) for r in records), None)
            picked[version] = (picked[version][0], vector)
    v3_vector = sca.v3_vector(picked["v3"][1])
    v2_vector = cvss.clean_v2(picked["v2"][1])
    return {
        "cvss3_score": cvss.fill(3, picked["v3"][0], v3_vector),
        "cvss3_vector": v3_vector,
        "cvss2_score": cvss.fill(2, picked["v2"][0], v2_vector),
        "cvss2_vector": v2_vector,
    }


# --- policy evaluations ------------------------------------------------------------------------


def _evaluations(doc: dict[str, Any], prefix: str, drafts: dict[str, Draft], ctx: ParseContext) -> list[_Target]:
    """Every evaluation of every tag of every image digest of one element of the file."""
    targets = []
    for digest, tags in doc.items():
        if not isinstance(tags, dict):
            raise InputError(ctx.source, f"the evaluations of {digest[:19]}... are not an object keyed by tag")
        for tag, evaluations in tags.items():
            for n, evaluation in enumerate(as_list(evaluations, ctx.source, f"evaluations of {tag}"), start=1):
                where = ", ".join(p for p in (prefix, f"evaluation {n} of {tag}") if p)
                targets.append(_evaluation_of(evaluation, tag, digest, where, drafts, ctx))
    return targets


def _evaluation_of(
    evaluation: object, tag: str, digest: str, record: str, drafts: dict[str, Draft], ctx: ParseContext
) -> _Target:
    ev = as_dict(evaluation)
    result = as_dict(as_dict(ev.get("detail")).get("result"))
    image = sca.image_repository(tag) or sca.image_repository(_val(result.get("tag")))
    asset_name = image or ctx.asset_name
    when = sca.own_time(ctx, record, "last_evaluation", ev.get("last_evaluation"))
    if when is None:
        when = sca.own_time(ctx, record, "created_at", result.get("created_at"))
    asset = Asset(AssetKind.CONTAINER_IMAGE, name=asset_name or UNNAMED)
    target = _Target(asset, asset_name is not None, Dating(ctx, when), tag or digest, Checks.CONFIGURATION)
    if not isinstance(evaluation, dict):
        target.found.skip(ctx, record, "not an object")
        return target
    table = _table(result)
    if table is None:
        target.found.skip(ctx, record, "no result table (header and rows)")
        return target
    header, rows = table
    columns = {str(name): i for i, name in enumerate(header)}
    if "Allowlisted" in columns and "Whitelisted" not in columns:
        columns["Whitelisted"] = columns["Allowlisted"]
    missing = [c for c in ("Trigger_Id", "Gate", "Trigger") if c not in columns]
    if missing:
        raise InputError(ctx.source, f"{record}: the result header has no {', '.join(missing)} column")
    policies = {
        _val(as_dict(p).get("id")): _val(as_dict(p).get("name"))
        for p in sca.items(as_dict(as_dict(ev.get("detail")).get("policy")).get("policies"))
    }
    for n, row in enumerate(as_list(rows, ctx.source, f"{record}: rows"), start=1):
        where = f"{record}, row {n}"
        if not isinstance(row, list):
            target.found.skip(ctx, where, "not a list")
            continue
        cells = {name: row[i] if i < len(row) else None for name, i in columns.items()}
        _row(cells, where, target, policies, drafts, ctx)
    return target


def _table(result: dict[str, Any]) -> tuple[list[Any], Any] | None:
    """The header and rows of the evaluation's result of its image."""
    inner = as_dict(result.get("result"))
    image_id = _val(result.get("image_id"))
    candidates = [inner.get(image_id)] if image_id and image_id in inner else []
    candidates += [v for k, v in inner.items() if k != image_id]
    for c in candidates:
        table = as_dict(as_dict(c).get("result"))
        if isinstance(table.get("header"), list) and "rows" in table:
            return table["header"], table["rows"]
    return None


def policy_package(spec: str, non_os: bool) -> str:
    """The package named after `+` in a vulnerability trigger id: the last part of an archive path
    (`app.jar:jackson-databind` is `jackson-databind`); a non-OS package without its archive
    suffix and version (`struts-core-1.3.8.jar` is `struts-core`)."""
    name = spec.rsplit(":", 1)[-1].strip() or spec
    if non_os:
        bare = _VERSION_TAIL.sub("", _ARCHIVE.sub("", name))
        name = bare or name
    return name


def _row(
    cells: dict[str, Any],
    record: str,
    target: _Target,
    policies: dict[str | None, str | None],
    drafts: dict[str, Draft],
    ctx: ParseContext,
) -> None:
    """One fired trigger: a vulnerability on a package, or a configuration finding."""
    trigger_id, gate, trigger = (_val(cells.get(c)) for c in ("Trigger_Id", "Gate", "Trigger"))
    output = _val(cells.get("Check_Output"))
    action = (_val(cells.get("Gate_Action")) or "").lower()
    if not gate or not trigger_id:
        target.found.skip(ctx, record, "no Gate or Trigger_Id")
        return
    status = FindingStatus.SET_ASIDE if cells.get("Whitelisted") not in _NOT_SET else FindingStatus.OPEN
    policy = policies.get(_val(cells.get("Policy_Id")))
    said = "; ".join(
        p for p in (output, f"action {action}" if action else None, f"policy {policy}" if policy else None) if p
    )
    if gate.lower() in _VULN_GATES and "+" in trigger_id:
        vuln_id, spec = (p.strip() for p in trigger_id.split("+", 1))
        if vuln_id and spec:
            non_os = "non-os" in (output or "").lower()
            pkg = policy_package(spec, non_os)
            record = f"{record} ({vuln_id})"
            target.found.add(vuln_id, pkg, status, said)
            word = (output or "").split(" ", 1)[0] or None
            rated = sca.rated(ctx, record, word)
            draft = drafts.get(vuln_id)
            if draft is None:
                links = _URL.findall(output or "")
                draft = drafts[vuln_id] = Draft(
                    {"name": vuln_id, "see_also": links[0] if links else None, "cves": common.cves_in(vuln_id)}, rated
                )
            draft.severity = sca.worse(draft.severity, rated)
            return
    check = f"{gate}/{trigger or '(no trigger)'}"
    record = f"{record} ({check})"
    target.found.add(check, trigger_id, status, said)
    rated = _ACTIONS[action] if action in _ACTIONS else common.odd_severity(ctx, record, action or None)
    draft = drafts.get(check)
    if draft is None:
        draft = drafts[check] = Draft(
            {
                "name": f"Anchore policy: {gate} gate, {trigger} trigger",
                "family": gate,
                "description": f"A rule of the Anchore policy on the {gate} gate's {trigger} trigger fired for "
                "the image; each finding's evidence holds the check's output.",
                "is_config": True,
            },
            rated,
        )
    draft.severity = sca.worse(draft.severity, rated)


def _weakness(vuln_id: str, draft: Draft) -> Weakness:
    fields = dict(draft.fields)
    if draft.fixes and not fields.get("solution"):
        upgrades = "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(draft.fixes.items()))
        more = " (and other packages: see each finding)" if len(draft.fixes) >= MAX_FIXES else ""
        fields["solution"] = f"Upgrade {upgrades}{more}"
    return Weakness(tool=TOOL, vuln_id=vuln_id, severity=draft.severity, **fields)
