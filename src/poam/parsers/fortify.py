"""Fortify Static Code Analyzer (SCA): the `.fpr` project file, its `audit.fvdl` on its own, and the
XML of a Fortify Security Report (Audit Workbench / ReportGenerator).

FPR and FVDL: one finding per rule (`ClassInfo/ClassID`) and file (the path of the primary trace's
default node, `Node[@isDefault='true']/SourceLocation/@path`, relative to the build's source base
path; a node the trace refers to by `NodeRef` is looked up in `UnifiedNodePool`). Several instances
of one rule in one file are one finding whose evidence lists their lines and instance ids. The
asset is `--asset` when given (a build id is a label chosen per build, often with a build number in
it), else the build id (`Build/BuildID`, the `-b` label of the scan), else `Fortify project`
(which covers nothing). Severity is Fortify's priority order, computed as Fortify does
from the rule's `Impact`, `Accuracy` and `Probability` (`EngineData/RuleInfo/Rule/MetaInfo`) and
the instance's `Confidence`: likelihood = accuracy x confidence x probability / 25; Critical when
impact and likelihood are both at least 2.5, High when only impact is, Medium when only likelihood
is, else Low. A class without that metadata is rated the same way from `InstanceSeverity` (impact)
and `Confidence` (likelihood), warned once. CWEs and DISA CCIs come from the rule's
`altcategoryCWE` and `altcategoryDISACCI*` metadata; the description, solution and references
from `Description[@classID]`. Findings are dated by `CreatedTS` (in the time zone `WriteDate`
gives), else `--scan-date`, else the file's modification time.

In an FPR, `audit.xml` holds the auditors' triage: an issue `suppressed="true"`, or whose Analysis
tag (`87f2364f-dcd4-49e6-861d-f8d3f351686b`) is `Not an Issue`, is set aside (an open finding
stays open, none is opened). Any other Analysis value keeps the issue open (one Fortify does not
define, with a warning). The results of one rule in one file are open when one instance is, else
set aside. The scan covers its build: a later FPR of the same build that no longer reports a
finding closes it. A vulnerability whose location cannot be read is kept on the build itself (no
path), warned, and the file then closes nothing by absence. The zip is read within the limits of
the Defender bundles (members, total size, compression ratio, no encrypted or unsafe member); only
`audit.fvdl` and `audit.xml` are read, streamed.

Report XML (`<ReportDefinition>`): the issues the report's sections list (`Issue[@iid,@ruleID]`),
one finding per rule and file; severity is the issue's `Friority` (else its `Folder`); an issue
whose Analysis tag is `Not an Issue` is set aside. A report lists what its template and filter
set select (often one example per category), so it closes nothing by absence. The project is
`--asset`, else the name in the report's "performed over the NAME code base" sentence (dated by
the same sentence), else `Fortify project`.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast

from poam.domain.models import Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import hits_text, max_severity, repo_path, repository
from poam.parsers.defender import ZIP_MAX_RATIO, ZIP_MAX_TOTAL
from poam.parsers.xmlsafe import iterparse, release

FPR_MAX_MEMBERS = 100_000
"""An FPR carries the scanned sources (`src-archive/`), often thousands of files; poam reads only
`audit.fvdl` and `audit.xml`, so the cap only bounds the central directory it lists (Defender's
bundles, read whole, keep 1,000)."""

TOOL = "Fortify SCA"
FALLBACK_ASSET = "Fortify project"
ANALYSIS_TAG = "87f2364f-dcd4-49e6-861d-f8d3f351686b"
"""The id of Fortify's Analysis tag in `audit.xml`."""
_ANALYSIS_OPEN = {"exploitable", "suspicious", "bad practice", "reliability issue", "not audited", "<unaudited>"}
_NOT_AN_ISSUE = "not an issue"
_CWE_ID = re.compile(r"CWE(?:\s+ID)?[\s-]*(\d+)", re.IGNORECASE)
_CCI = re.compile(r"CCI-\d{6}", re.IGNORECASE)
_OFFSET = re.compile(r"([+-]\d{2}:?\d{2}|Z)$")
_MAX_TEXT = 4000
"""Longest description or solution kept (Fortify's explanations run to pages)."""


def _local(element: Any) -> str:
    """An element's local name (FVDL elements are namespaced)."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Any, *path: str) -> Any:
    """The first descendant along `path` (local names), or None."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c) == name), None)
    return element


def _children(element: Any, name: str) -> list[Any]:
    return [c for c in element if _local(c) == name] if element is not None else []


def _text(element: Any, *path: str) -> str | None:
    found = _child(element, *path) if path else element
    return common.clean(found.text) if found is not None else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _markup(value: str | None) -> str | None:
    """Fortify's description markup (`<Content><Paragraph>...`, `<Replace key=.../>`) as plain text."""
    text = common.plain(value)
    if text and len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT].rstrip() + " ..."
    return text


def _priority(impact: float, likelihood: float) -> Severity:
    """Fortify's priority order from impact and likelihood (0-5)."""
    if impact >= 2.5:
        return Severity.CRITICAL if likelihood >= 2.5 else Severity.HIGH
    return Severity.MEDIUM if likelihood >= 2.5 else Severity.LOW


# --- FVDL ---------------------------------------------------------------------------------------


@dataclass
class _Instance:
    """One `Vulnerability` of the FVDL, as much as is needed once the rules are known."""

    label: str
    class_id: str
    instance_id: str | None
    kind: str | None
    subtype: str | None
    kingdom: str | None
    severity: float | None
    confidence: float | None
    place: tuple[str | None, int | None] | None
    """Path and line of the primary trace's default node, when the vulnerability holds it."""
    refs: list[str] = field(default_factory=list)
    """Ids of `UnifiedNodePool` nodes its primary trace refers to, in order."""


@dataclass
class _Fvdl:
    """What an FVDL says, gathered while streaming it."""

    created: dt.datetime | None = None
    build_id: str | None = None
    base_path: str | None = None
    engine: str | None = None
    instances: list[_Instance] = field(default_factory=list)
    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    descriptions: dict[str, dict[str, str | None]] = field(default_factory=dict)
    pooled: dict[str, tuple[bool, str | None, int | None]] = field(default_factory=dict)


_FVDL_TAGS = tuple(
    f"{{*}}{t}"
    for t in (
        "FVDL",
        "CreatedTS",
        "WriteDate",
        "BuildID",
        "SourceBasePath",
        "Vulnerability",
        "Description",
        "Rule",
        "EngineVersion",
        "Node",
        "Context",
        "Snippet",
        "SourceInstance",
        "SinkInstance",
        "ContextPool",
        "UnifiedNodePool",
        "Snippets",
        "ProgramData",
    )
)
_BULKY = {"ContextPool", "UnifiedNodePool", "Snippets", "ProgramData", "Snippet", "SourceInstance", "SinkInstance"}


def _read_fvdl(stream: BinaryIO, source: str, ctx: ParseContext) -> _Fvdl:
    """Stream an FVDL document: build, vulnerabilities, descriptions, rules; bulky sections
    (snippets, program data, node pools) are released as they pass."""
    out = _Fvdl()
    write_offset = ""
    created: tuple[str, str] | None = None
    checked = False
    count = 0
    for event, el in iterparse(stream, source, _FVDL_TAGS, ("start", "end")):
        name = _local(el)
        if not checked:
            root = _local(el.getroottree().getroot())
            if root != "FVDL":
                raise InputError(source, f"not a Fortify FVDL document (root element <{root[:40]}>)")
            checked = True
        if event == "start":
            continue
        parent = _local(el.getparent()) if el.getparent() is not None else ""
        if name == "Vulnerability" and parent == "Vulnerabilities":
            count += 1
            found = _instance(el, f"vulnerability {count}", ctx)
            if found is not None:
                out.instances.append(found)
            release(el)
        elif name == "Node" and parent == "UnifiedNodePool":
            ident = el.get("id")
            if ident:
                location = _child(el, "SourceLocation")
                line = _line(location.get("line")) if location is not None else None
                path = location.get("path") if location is not None else None
                out.pooled[ident] = (el.get("isDefault") == "true", path, line)
            release(el)
        elif name == "Context" and parent == "ContextPool" or name in _BULKY:
            release(el)
        elif name == "CreatedTS" and parent == "FVDL":
            created = (el.get("date") or "", el.get("time") or "")
        elif name == "WriteDate" and parent == "FVDL":
            m = _OFFSET.search((el.get("time") or "").strip())
            write_offset = m.group(1) if m else ""
            if created is None:
                created = (el.get("date") or "", (el.get("time") or "").removesuffix(write_offset))
        elif name == "BuildID" and parent == "Build":
            out.build_id = _text(el)
        elif name == "SourceBasePath" and parent == "Build":
            out.base_path = _text(el)
        elif name == "EngineVersion":
            out.engine = _text(el)
        elif name == "Description" and el.get("classID"):
            refs = [_text(r, "Title") for r in _children(_child(el, "References"), "Reference")]
            out.descriptions[str(el.get("classID"))] = {
                "abstract": _markup(_text(el, "Abstract")),
                "explanation": _markup(_text(el, "Explanation")),
                "recommendations": _markup(_text(el, "Recommendations")),
                "references": "\n".join(r for r in refs if r) or None,
            }
            release(el)
        elif name == "Rule" and parent == "RuleInfo" and el.get("id"):
            groups = _children(_child(el, "MetaInfo"), "Group")
            out.rules[str(el.get("id"))] = {str(g.get("name")): (g.text or "").strip() for g in groups if g.get("name")}
            release(el)
    if not checked:
        raise InputError(source, "not a Fortify FVDL document")
    if created and created[0]:
        when = f"{created[0]}T{created[1].strip() or '00:00:00'}{write_offset}"
        out.created = common.parse_time(when) or common.parse_time(created[0])
    return out


def _line(value: object) -> int | None:
    try:
        line = int(str(value).strip())
    except ValueError:
        return None
    return line if line >= 0 else None


def _instance(el: Any, label: str, ctx: ParseContext) -> _Instance | None:
    """One vulnerability: its class, instance, ratings and primary location."""
    info = _child(el, "ClassInfo")
    class_id = _text(info, "ClassID")
    if class_id is None:
        ctx.skip(label, "has no ClassInfo/ClassID")
        return None
    label = f"{label} ({class_id[:60]})"
    instance = _child(el, "InstanceInfo")
    place: tuple[str | None, int | None] | None = None
    first: tuple[str | None, int | None] | None = None
    refs: list[str] = []
    for trace in _children(_child(el, "AnalysisInfo", "Unified"), "Trace"):
        for entry in _children(_child(trace, "Primary"), "Entry"):
            node = _child(entry, "Node")
            ref = _child(entry, "NodeRef")
            if node is not None:
                location = _child(node, "SourceLocation")
                if location is None:
                    continue
                spot = (location.get("path"), _line(location.get("line")))
                first = first or spot
                if node.get("isDefault") == "true" and place is None:
                    place = spot
            elif ref is not None and ref.get("id"):
                refs.append(str(ref.get("id")))
        break  # the first trace is the primary one Fortify shows
    return _Instance(
        label=label,
        class_id=class_id,
        instance_id=_text(instance, "InstanceID"),
        kind=_text(info, "Type"),
        subtype=_text(info, "Subtype"),
        kingdom=_text(info, "Kingdom"),
        severity=_number(_text(instance, "InstanceSeverity")) or _number(_text(info, "DefaultSeverity")),
        confidence=_number(_text(instance, "Confidence")),
        place=place or (None if refs else first),
        refs=refs,
    )


def _place(item: _Instance, fvdl: _Fvdl) -> tuple[str | None, int | None] | None:
    """The primary location: the default node, inline or in the node pool; else the first node."""
    if item.place is not None and not item.refs:
        return item.place
    pooled = [fvdl.pooled[r] for r in item.refs if r in fvdl.pooled]
    default = next(((p, line) for d, p, line in pooled if d and p), None)
    return item.place or default or next(((p, line) for _d, p, line in pooled if p), None)


def _relative(path: str | None, base: str | None) -> str | None:
    """The path relative to the build's source base path when it is under it."""
    clean = repo_path(path)
    root = repo_path(base)
    if clean and root and clean.lower().startswith(root.rstrip("/").lower() + "/"):
        return clean[len(root.rstrip("/")) + 1 :]
    return clean


@dataclass
class _Group:
    """The instances of one rule in one file."""

    class_id: str
    path: str | None
    hits: dict[FindingStatus, list[str]] = field(default_factory=dict)
    severities: dict[FindingStatus, list[Severity]] = field(default_factory=dict)

    @property
    def status(self) -> FindingStatus:
        """Open when an instance is open, else set aside."""
        return FindingStatus.OPEN if FindingStatus.OPEN in self.hits else FindingStatus.SET_ASIDE


@dataclass(frozen=True)
class _Triage:
    """The auditors' decisions of an FPR's `audit.xml`, by instance id."""

    suppressed: frozenset[str] = frozenset()
    analysis: dict[str, str] = field(default_factory=dict)


def _findings(fvdl: _Fvdl, triage: _Triage, ctx: ParseContext) -> Iterator[Record]:
    """Coverage of the build, one finding per rule and file, then the scan."""
    asset = repository(ctx.asset_name or fvdl.build_id, ctx, FALLBACK_ASSET)
    when = fvdl.created or ctx.fallback_time()
    groups: dict[tuple[str, str | None], _Group] = {}
    unrated: set[str] = set()
    located = True
    for item in fvdl.instances:
        severity = _fortify_priority(item, fvdl.rules.get(item.class_id), unrated, ctx)
        place = _place(item, fvdl)
        path, line = (_relative(place[0], fvdl.base_path), place[1]) if place else (None, None)
        if path is None:
            ctx.warn(item.label, "its location cannot be read; kept on the build itself, nothing is closed by absence")
            located = False
        status = _status(item, triage, ctx)
        group = groups.setdefault((item.class_id, path), _Group(item.class_id, path))
        hit = f"Line {line}" if line is not None else "Location"
        group.hits.setdefault(status, []).append(f"{hit}: instance {item.instance_id}" if item.instance_id else hit)
        group.severities.setdefault(status, []).append(severity)
    if unrated:
        ctx.warn(
            "file",
            f"{len(unrated)} rule(s) without Impact/Accuracy/Probability metadata: "
            "their priority is taken from InstanceSeverity and Confidence",
        )
    if located and asset.name != FALLBACK_ASSET:  # an unnamed project covers nothing
        yield Coverage(asset, when, when, None, Checks.ALL)
    by_class: dict[str, list[Severity]] = {}  # a rule's severity: the highest of its open instances, else of all
    for g in groups.values():
        by_class.setdefault(g.class_id, []).extend(g.severities.get(FindingStatus.OPEN, []))
    first = {i.class_id: i for i in reversed(fvdl.instances)}
    weaknesses: dict[str, Weakness] = {}
    for g in groups.values():
        weakness = weaknesses.get(g.class_id)
        if weakness is None:
            severities = by_class[g.class_id] or [
                s for h in groups.values() if h.class_id == g.class_id for v in h.severities.values() for s in v
            ]
            weakness = weaknesses[g.class_id] = _weakness(first[g.class_id], fvdl, max_severity(severities))
        status = g.status  # the evidence of the instances that decided
        yield Finding(weakness, asset, when, evidence=hits_text(g.hits[status]), status=status, path=g.path)
    yield Scan(TOOL, fvdl.engine, fvdl.build_id, when, when)


def _fortify_priority(item: _Instance, rule: dict[str, str] | None, unrated: set[str], ctx: ParseContext) -> Severity:
    meta = rule or {}
    impact, accuracy, probability = (_number(meta.get(k)) for k in ("Impact", "Accuracy", "Probability"))
    if impact is not None and accuracy is not None and probability is not None and item.confidence is not None:
        return _priority(impact, accuracy * item.confidence * probability / 25)
    if item.severity is not None and item.confidence is not None:
        unrated.add(item.class_id)
        return _priority(item.severity, item.confidence)
    return common.odd_severity(ctx, item.label, None)


def _status(item: _Instance, triage: _Triage, ctx: ParseContext) -> FindingStatus:
    """Set aside when suppressed or analysed as Not an Issue; else open."""
    if item.instance_id is None:
        return FindingStatus.OPEN
    if item.instance_id in triage.suppressed:
        return FindingStatus.SET_ASIDE
    value = triage.analysis.get(item.instance_id)
    if value is None:
        return FindingStatus.OPEN
    word = " ".join(value.lower().split())
    if word == _NOT_AN_ISSUE:
        return FindingStatus.SET_ASIDE
    if word in _ANALYSIS_OPEN:
        return FindingStatus.OPEN
    if common.dismissed(word):
        ctx.warn(item.label, f"Analysis {value[:40]!r} read as set aside")
        return FindingStatus.SET_ASIDE
    ctx.warn(item.label, f"Analysis {value[:40]!r} is not one of Fortify's; kept open")
    return FindingStatus.OPEN


def _weakness(item: _Instance, fvdl: _Fvdl, severity: Severity) -> Weakness:
    meta = fvdl.rules.get(item.class_id, {})
    about = fvdl.descriptions.get(item.class_id, {})
    cwe_texts = [meta.get("altcategoryCWE"), about.get("references")]
    ccis = [v for k, v in meta.items() if k.startswith("altcategoryDISACCI")]
    name = f"{item.kind}: {item.subtype}" if item.kind and item.subtype else item.kind or item.class_id
    return Weakness(
        tool=TOOL,
        vuln_id=item.class_id,
        name=name[:200],
        severity=severity,
        family=item.kingdom,
        synopsis=about.get("abstract"),
        description=about.get("explanation") or about.get("abstract"),
        solution=about.get("recommendations"),
        see_also=about.get("references"),
        cwes=_cwes(*cwe_texts),
        ccis=tuple(dict.fromkeys(m.group(0).upper() for v in ccis for m in _CCI.finditer(v))),
    )


def _cwes(*texts: str | None) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for value in texts:
        for m in _CWE_ID.finditer(value or ""):
            found[str(int(m.group(1)))] = None
    return tuple(found)


class FortifyFvdlParser:
    """Reader of a bare Fortify FVDL document (`audit.fvdl` taken out of an FPR)."""

    id = "fortify-fvdl"
    name = "Fortify SCA FVDL (audit.fvdl)"
    maps_to = (
        "one finding per rule (ClassID) and file, instances' lines in evidence, on --asset, else the build id, "
        "else 'Fortify project'; severity Fortify's priority order"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """Root element `<FVDL>`."""
        return head.xml_root == "FVDL"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """The FVDL's findings; without `audit.xml` nothing is set aside."""
        fvdl = _read_fvdl(stream, ctx.source, ctx)
        yield from _findings(fvdl, _Triage(), ctx)


class FortifyFprParser:
    """Reader of a Fortify `.fpr` project file (zip of `audit.fvdl` and `audit.xml`)."""

    id = "fortify-fpr"
    name = "Fortify SCA project file (.fpr)"
    maps_to = (
        "one finding per rule (ClassID) and file, instances' lines in evidence, on --asset, else the build id, "
        "else 'Fortify project'; severity Fortify's priority order; suppressed and Not an Issue set aside"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A zip archive whose first members name Fortify's `audit.fvdl` or `audit.xml`."""
        if not head.data.startswith(b"PK\x03\x04"):
            return False
        return b"audit.fvdl" in head.data or b"audit.xml" in head.data

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read `audit.xml` (triage), then stream `audit.fvdl`."""
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise InputError(ctx.source, f"not a readable zip archive: {exc}") from None
        with archive:
            fvdl_info, audit_info = _fpr_members(archive, ctx)
            triage = _Triage()
            if audit_info is not None:
                with _Member(archive, audit_info, ctx) as member:
                    triage = _read_audit(cast(BinaryIO, member), f"{ctx.source} (audit.xml)")
            with _Member(archive, fvdl_info, ctx) as member:
                fvdl = _read_fvdl(cast(BinaryIO, member), f"{ctx.source} (audit.fvdl)", ctx)
        yield from _findings(fvdl, triage, ctx)


def _fpr_members(archive: zipfile.ZipFile, ctx: ParseContext) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo | None]:
    """The FVDL and audit members of an FPR, checked against the zip limits."""
    members = archive.infolist()
    if len(members) > FPR_MAX_MEMBERS:
        raise InputError(ctx.source, f"refused: zip has more than {FPR_MAX_MEMBERS} members")
    found: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        name = info.filename
        path = PurePosixPath(name)
        if name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
            raise InputError(ctx.source, f"refused: zip member with an unsafe path {name[:80]!r}")
        if info.is_dir() or path.name not in ("audit.fvdl", "audit.xml"):
            continue
        known = found.get(path.name)
        if known is None or len(name) < len(known.filename):  # the one nearest the root
            found[path.name] = info
    if "audit.fvdl" not in found:
        raise InputError(ctx.source, "zip is not a Fortify FPR: no audit.fvdl member")
    total = 0
    for info in found.values():
        name = info.filename
        if info.flag_bits & 0x1:
            raise InputError(ctx.source, f"refused: zip member {name[:80]!r} is encrypted")
        total += info.file_size
        if total > ZIP_MAX_TOTAL:
            raise InputError(ctx.source, f"refused: zip content larger than {ZIP_MAX_TOTAL // (1024 * 1024)} MiB")
        if info.file_size > 1024 * 1024 and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
            raise InputError(
                ctx.source, f"refused: zip member {name[:80]!r} is compressed suspiciously well (zip bomb?)"
            )
    return found["audit.fvdl"], found.get("audit.xml")


class _Member(io.RawIOBase):
    """A zip member read as a stream, never more than its declared size; errors of the archive
    become InputError."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: ParseContext) -> None:
        self._info = info
        self._ctx = ctx
        self._read = 0
        try:
            self._inner = archive.open(info)
        except (
            zipfile.BadZipFile,
            zlib.error,
            OSError,
            EOFError,
            NotImplementedError,
            RuntimeError,
            ValueError,
        ) as exc:
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> InputError:
        return InputError(self._ctx.source, f"cannot read zip member {self._info.filename[:80]!r}: {exc}")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._read

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            self._read = self._inner.seek(offset, whence)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise self._error(exc) from None
        return self._read

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = self._inner.read(-1 if size is None else size)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            raise self._error(exc) from None
        self._read += len(data)
        if self._read > self._info.file_size:
            raise InputError(
                self._ctx.source, f"refused: zip member {self._info.filename[:80]!r} is larger than it declares"
            )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _read_audit(stream: BinaryIO, source: str) -> _Triage:
    """Suppressed instances and Analysis tag values of an FPR's `audit.xml`."""
    suppressed: set[str] = set()
    analysis: dict[str, str] = {}
    for _event, el in iterparse(stream, source, ("{*}Issue",)):
        parent = el.getparent()
        if parent is None or _local(parent) != "IssueList":  # an Issue elsewhere (a tag history)
            continue
        ident = el.get("instanceId")
        if ident:
            if (el.get("suppressed") or "").strip().lower() == "true":
                suppressed.add(ident)
            tag = next((t for t in _children(el, "Tag") if (t.get("id") or "").lower() == ANALYSIS_TAG), None)
            value = _text(tag, "Value") if tag is not None else None
            if value:
                analysis[ident] = value
        release(el)
    return _Triage(frozenset(suppressed), analysis)
