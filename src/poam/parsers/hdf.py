"""MITRE Heimdall Data Format (HDF): InSpec / CINC Auditor exec JSON (`--reporter json`), and the
HDF that MITRE SAF's converters (`saf convert *2hdf`, Heimdall, heimdall_tools) write for other
tools (SonarQube, gosec, Fortify, ZAP, Nessus, STIG checklists...). poam reads all of them here.

A document is `{platform, version, statistics, profiles[], passthrough?}`; a profile holds
controls, and a control holds the results of its tests (`describe` blocks). One finding per
control and target:

- **Status** (results' `status`; a result with a `backtrace` is an error, as Heimdall reads it):
  any `failed` opens the control; a control every result of which `passed` is a fix; a control
  whose results are only `skipped`, or `error`, or `passed` beside `skipped` or `error`, gives
  nothing (not run in full: proof of neither; an error is warned). A control without results was
  not run: nothing. `impact` 0 (not applicable) and a control skipped by an InSpec waiver are set
  aside; a waived control that ran (`run: true`) and failed is set aside too, unless the waiver
  expired. A status word HDF does not define is set aside when it means so (`ignored`...), else
  open, warned either way.
- **Severity**: `tags.severityoverride` (a documented override, in the evidence), else `impact` in
  InSpec's and Heimdall's bands (>= 0.9 critical, >= 0.7 high, >= 0.4 medium, > 0 low), else
  `tags.severity`, else Moderate, warned.
- **Overlays**: profiles of one document that share control ids (an overlay and the profile it
  depends on, linked by `parent_profile`, or unlinked profiles) are merged as InSpec runs them:
  the results are those of the deepest layer that has any (InSpec reports them on the baseline;
  unlinked siblings' results are joined), every other value is the top layer's when it gives one
  (an overlay's impact, title and tags override the baseline's).
- **Target**: the host a converted checklist names (`passthrough.checklist.asset` or
  `passthrough.metadata`: host name, IP, FQDN, MAC), else `platform.target_id` (an `http(s)` URL is
  a web application, a host name or IP a host, an `ssh://`/`winrm://` target its host, anything
  else an asset of that name), else `--asset` read the same way, else a fallback named after the
  tool and platform (`InSpec target (centos 7.4.1708)`). On the fallback, which may stand for
  several hosts, passed controls close nothing (warned) and the file covers nothing.
- **Tool**: `InSpec` for an InSpec run; for converter output (`platform.name` "Heimdall Tools")
  the tool the profile names (`gosec Scan` -> `gosec`), and `DISA STIG Viewer` for a converted
  checklist, so that it and the `.ckl` are one detector.
- Controls with CCIs or DISA STIG ids (`gid`, `rid`, `stig_id`), and every InSpec control that
  carries no CVE and is not tagged RA-5/SI-2 alone (a patch-level check), are configuration
  findings; `tags.nist` are the controls the file names.
- **Dates**: the newest `start_time` of a control's results, else the newest of its document,
  else `--scan-date`, else the file's modification time. An unreadable `start_time` is warned.

The file closes nothing by absence (`closes_by_coverage` False): a profile is a selection of
checks, an overlay skips some, and the next file may run another profile on the same host.
Documents (several one after another, or JSON Lines) are read one at a time, each whole.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from poam.domain.controls import control_id
from poam.domain.models import (
    Asset,
    AssetKind,
    Checks,
    Coverage,
    Finding,
    FindingStatus,
    Scan,
    Severity,
    Weakness,
)
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import arr, obj, text
from poam.parsers.stig_ckl import MAX_ID, host_asset, site_path
from poam.parsers.stig_ckl import TOOL as CHECKLIST_TOOL

INSPEC = "InSpec"
CONVERTER = "heimdall tools"
"""`platform.name` of HDF written by MITRE's converters (hdf-converters, heimdall_tools)."""
MAX_LISTED = 20
"""Results shown in a finding's evidence; the rest are counted."""
MAX_RESULT_TEXT = 1500
_RESULT_WORDS = frozenset({"passed", "failed", "skipped", "error"})
_IMPACT_WORDS = {"none": 0.0, "low": 0.01, "medium": 0.4, "high": 0.7, "critical": 0.9}
"""InSpec's impact names (`Inspec::Impact::IMPACT_SCORES`)."""
_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "cat i": Severity.HIGH,
    "cat ii": Severity.MEDIUM,
    "cat iii": Severity.LOW,
}
_FAMILIES = frozenset(
    ("AC", "AT", "AU", "CA", "CM", "CP", "IA", "IR", "MA", "MP", "PE", "PL", "PM", "PS", "PT", "RA", "SA", "SC", "SI")
    + ("SR",)
)
"""NIST SP 800-53 control families: Heimdall's `UM-1` ("unmapped") is not one."""
_FLAW_CONTROLS = frozenset({"RA-5", "SI-2"})
"""Controls of vulnerability scanning and flaw remediation: an InSpec control tagged with these
alone (a CVE or patch-level baseline) is a vulnerability finding, not a configuration one."""
_CCI = re.compile(r"CCI-\d{6}", re.IGNORECASE)
_VULN_ID = re.compile(r"^V-\d+$", re.IGNORECASE)
_RULE_ID = re.compile(r"^SV-\d+", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
_HTML = re.compile(r"</?(?:p|br|ul|ol|li|code|pre|h\d|a|b|i|em|strong|div|span)\b[^>]*>", re.IGNORECASE)
_SCAN_SUFFIX = re.compile(r"\s+scan$", re.IGNORECASE)


@dataclass
class _Profile:
    number: int
    name: str
    parent: str | None
    title: str | None
    version: str | None
    controls: list[Any]
    depth: int = 0


@dataclass
class _Layer:
    """One profile's entry for a control id."""

    control: dict[str, Any]
    profile: _Profile
    results: list[Any]


@dataclass
class _Control:
    """A control id merged over the profiles (layers) that list it, top layer first."""

    id: str
    record: str
    layers: list[_Layer]
    results: list[Any] = field(default_factory=list)
    time: dt.datetime | None = None

    def first(self, key: str) -> Any:
        """The top layer's value for `key`, else the next layer's that gives one."""
        for layer in self.layers:
            value = layer.control.get(key)
            if value is not None and value != "" and value != [] and value != {}:
                return value
        return None

    def tags(self) -> dict[str, Any]:
        """Every layer's tags, an overlay's replacing its baseline's."""
        merged: dict[str, Any] = {}
        for layer in reversed(self.layers):
            merged.update(obj(layer.control.get("tags")))
        return merged


@dataclass
class _State:
    """What the file's documents add up to, for its Scan."""

    tools: dict[str, str | None] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    times: list[dt.datetime] = field(default_factory=list)
    weaknesses: dict[tuple[str, str, Severity], Weakness] = field(default_factory=dict)
    controls: int = 0
    """Controls read (with an id), over every document."""


class HdfParser:
    """Reader of MITRE Heimdall Data Format JSON (InSpec results and SAF converter output)."""

    id = "hdf"
    name = "MITRE Heimdall Data Format (HDF) / InSpec exec JSON"
    maps_to = (
        "one finding per control and target; a failed result opens it, a control whose every result "
        "passed closes it; impact 0 and waived controls set aside"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """An object with `profiles` beside `platform` or `statistics`; or InSpec 1.x's layout,
        whose flat list of results (`controls`, before `profiles`) can fill the whole head."""
        shape = head.json
        if shape.kind != "object":
            return False
        if "profiles" in shape.keys and shape.keys & {"platform", "statistics"}:
            return True
        return (
            {"controls", "version"} <= shape.keys
            and re.search(r'"code_desc"\s*:', head.text) is not None
            and re.search(r'"status"\s*:\s*"(?:passed|failed|skipped|error)"', head.text) is not None
        )

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield each document's coverage and findings, then the scan."""
        state = _State()
        skipped = ctx.report.skipped
        for number, doc in enumerate(jsonio.documents(stream, ctx.source), start=1):
            yield from self._document(doc, number, ctx, state)
        left_out = ctx.report.skipped - skipped
        if left_out and not state.controls:  # its coverage alone would hide that nothing was read
            raise InputError(ctx.source, f"no control could be read ({left_out} left out, first: {_first_skip(ctx)})")
        tools = list(state.tools)
        tool = tools[0] if len(tools) == 1 else ", ".join(tools)[:200] or INSPEC
        name = ", ".join(dict.fromkeys(state.names))[:500] or None
        yield Scan(
            tool,
            state.tools.get(tool),
            name,
            min(state.times, default=None),
            max(state.times, default=None),
        )

    # --- one document ------------------------------------------------------------------------

    def _document(self, doc: Any, number: int, ctx: ParseContext, state: _State) -> Iterator[Record]:
        where = f"document {number}: " if number > 1 else ""
        if not isinstance(doc, dict):
            raise InputError(ctx.source, f"{where}not HDF: the document is {_kind(doc)}, not an object")
        profiles = doc.get("profiles")
        if profiles is None:
            if isinstance(doc.get("controls"), list):
                raise InputError(
                    ctx.source, f"{where}InSpec JSON-MIN output has no profiles: write HDF with `--reporter json`"
                )
            raise InputError(ctx.source, f"{where}not HDF: no profiles list")
        if not isinstance(profiles, list):
            raise InputError(ctx.source, f"{where}profiles is {_kind(profiles)}, not a list")
        platform = obj(doc.get("platform"))
        passthrough = obj(doc.get("passthrough"))
        converted = (text(platform.get("name")) or "").lower() == CONVERTER
        readable = self._profiles(profiles, where, ctx)
        tops = [p for p in readable if p.depth == 0] or readable
        tool, version = self._tool(converted, passthrough, tops, doc)
        state.tools.setdefault(tool, version)
        state.names += [p.title or p.name for p in tops if p.title or p.name]
        asset, path, named = self._target(platform, passthrough, converted, tool, ctx)
        controls = self._controls(readable, where, ctx)
        state.controls += len(controls)
        times = [c.time for c in controls if c.time is not None]
        latest = max(times, default=None)
        fallback: list[dt.datetime] = []

        def undated() -> dt.datetime:
            """The newest time of the document, else `--scan-date` or the file's time (asked once)."""
            if latest is not None:
                return latest
            if not fallback:
                fallback.append(ctx.fallback_time())
            return fallback[0]

        found: list[Finding] = []
        dropped = 0
        for control in controls:
            when = control.time or undated()
            finding = self._finding(control, asset, path, when, tool, converted, state, ctx)
            if finding is None:
                continue
            if finding.status is FindingStatus.FIXED and not named:
                dropped += 1  # the fallback may stand for several hosts: a pass here proves nothing there
                continue
            found.append(finding)
        if dropped:
            ctx.warn(
                f"{where}target",
                f"the file names no target (no platform.target_id or host in passthrough): its findings are on "
                f"{asset.name!r} and its {dropped} passed control(s) close nothing; name the target with --asset",
            )
        stamps = [f.observed_at for f in found] + times + fallback
        if named:
            start = min(stamps) if stamps else undated()
            end = max(stamps) if stamps else start
            kinds = {f.weakness.is_config for f in found} or {not converted or tool == CHECKLIST_TOOL}
            checks = Checks.ALL if len(kinds) > 1 else Checks.CONFIGURATION if True in kinds else Checks.VULNERABILITY
            yield Coverage(asset, start, end, None, checks, tool=tool)
            stamps += [start, end]
        state.times += stamps
        yield from found

    def _profiles(self, profiles: list[Any], where: str, ctx: ParseContext) -> list[_Profile]:
        readable: list[_Profile] = []
        for number, raw in enumerate(profiles, start=1):
            if not isinstance(raw, dict):
                ctx.skip(f"{where}profile {number}", "not an object")
                continue
            name = text(raw.get("name")) or f"profile {number}"
            controls = raw.get("controls")
            if controls is None:
                controls = []
            elif not isinstance(controls, list):
                raise InputError(ctx.source, f"{where}profile {name[:60]!r}: controls is {_kind(controls)}, not a list")
            status = (text(raw.get("status")) or "").lower()
            if status in ("failed", "error"):
                why = text(raw.get("status_message")) or text(raw.get("skip_message")) or "no reason given"
                ctx.warn(f"{where}profile {name[:60]!r}", f"status {status}: its controls did not run ({why[:200]})")
            readable.append(
                _Profile(
                    number,
                    name,
                    text(raw.get("parent_profile")),
                    _line(raw.get("title")),
                    text(raw.get("version")),
                    controls,
                )
            )
        by_name = {p.name: p for p in readable}
        for p in readable:  # how many overlays stand above this profile
            seen, parent = {p.name}, p.parent
            while parent is not None and parent in by_name and parent not in seen:
                seen.add(parent)
                p.depth += 1
                parent = by_name[parent].parent
        return readable

    def _controls(self, profiles: list[_Profile], where: str, ctx: ParseContext) -> list[_Control]:
        """The document's controls, merged over the profiles that list the same id."""
        merged: dict[str, _Control] = {}
        for profile in sorted(profiles, key=lambda p: p.depth):  # stable: the file's order within a depth
            for number, raw in enumerate(profile.controls, start=1):
                record = f"{where}control {number} of profile {profile.name[:60]!r}"
                if not isinstance(raw, dict):
                    ctx.skip(record, "not an object")
                    continue
                cid = text(raw.get("id"))
                if not cid:
                    ctx.skip(record, "no id")
                    continue
                if len(cid) > MAX_ID:
                    ctx.skip(record, f"id longer than {MAX_ID} characters ({cid[:40]!r}...)")
                    continue
                results = raw.get("results")
                if results is None:
                    results = []
                elif not isinstance(results, list):
                    ctx.warn(f"{where}control {cid[:80]}", f"results is {_kind(results)}, not a list; read as none")
                    results = []
                control = merged.setdefault(cid, _Control(cid, f"{where}control {cid[:80]}", []))
                control.layers.append(_Layer(raw, profile, results))
        for control in merged.values():
            with_results = [layer for layer in control.layers if layer.results]
            if with_results:
                deepest = max(layer.profile.depth for layer in with_results)
                control.results = [r for layer in with_results if layer.profile.depth == deepest for r in layer.results]
            control.time = self._time(control, ctx)
        return list(merged.values())

    def _time(self, control: _Control, ctx: ParseContext) -> dt.datetime | None:
        stamps: list[dt.datetime] = []
        bad: str | None = None
        for r in control.results:
            value = obj(r).get("start_time")
            if value is None or value == "":
                continue
            when = _parse_time(value)
            if when is None:
                bad = bad or str(value)[:40]
            else:
                stamps.append(when)
        if bad is not None:
            ctx.warn(control.record, f"start_time {bad!r} is not a date; dated by the file's other results")
        return max(stamps, default=None)

    # --- tool and target ---------------------------------------------------------------------

    def _tool(
        self, converted: bool, passthrough: dict[str, Any], tops: list[_Profile], doc: dict[str, Any]
    ) -> tuple[str, str | None]:
        if not converted:
            return INSPEC, text(doc.get("version"))
        if "checklist" in passthrough or obj(passthrough.get("metadata")).get("hostname") is not None:
            return CHECKLIST_TOOL, None
        top = tops[0] if tops else None
        name = _SCAN_SUFFIX.sub("", top.name).strip() if top else ""
        return (name[:200] or "Heimdall Tools"), (top.version if top else None)

    def _target(
        self,
        platform: dict[str, Any],
        passthrough: dict[str, Any],
        converted: bool,
        tool: str,
        ctx: ParseContext,
    ) -> tuple[Asset, str | None, bool]:
        """The document's asset, the path on it (a checklist's web or database site), and whether
        the file or `--asset` named it."""
        os_name = None
        if not converted:
            os_name = " ".join(p for p in (text(platform.get("name")), text(platform.get("release"))) if p) or None
        for block in (obj(obj(passthrough.get("checklist")).get("asset")), obj(passthrough.get("metadata"))):
            host = host_asset(
                text(block.get("hostname")),
                [text(block.get("hostip"))],
                [text(block.get("hostfqdn"))],
                [text(block.get("hostmac"))],
                (text(block.get("assettype")) or "").lower() == "non-computing",
            )
            if host is not None:
                where = site_path(block.get("webordatabase"), block.get("webdbsite"), block.get("webdbinstance"))
                return host, where, True
        for name in (text(platform.get("target_id")), ctx.asset_name):
            asset = _named(name, os_name) if name else None
            if asset is not None:
                return asset, None, True
        label = f"{tool} target" + (f" ({os_name})" if os_name else "")
        return Asset(kind=AssetKind.OTHER, name=label[:200]), None, False

    # --- one control -------------------------------------------------------------------------

    def _finding(
        self,
        control: _Control,
        asset: Asset,
        path: str | None,
        when: dt.datetime,
        tool: str,
        converted: bool,
        state: _State,
        ctx: ParseContext,
    ) -> Finding | None:
        tags = control.tags()
        impact = self._impact(control, ctx)
        status, notes = self._status(control, impact, when, ctx)
        if status is None:
            return None
        severity, override = self._severity(control, tags, impact, ctx)
        key = (tool, control.id, severity)
        weakness = state.weaknesses.get(key)
        if weakness is None:
            top = control.layers[0].profile
            weakness = _weakness(tool, control, tags, severity, converted, top.title or top.name)
            state.weaknesses[key] = weakness
        if override:
            notes.append(("Severity override", override))
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            evidence=_evidence(control.results, notes),
            status=status,
            path=path,
        )

    def _impact(self, control: _Control, ctx: ParseContext) -> float | None:
        """The control's impact, 0.0-1.0; None when it gives none or one poam cannot read (warned)."""
        value = control.first("impact")
        if value is None:
            return None
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            word = value.strip().lower()
            number = _IMPACT_WORDS.get(word)
            if number is None:
                try:
                    number = float(word)
                except ValueError:
                    number = None
        if number is None or not 0.0 <= number <= 1.0:
            ctx.warn(control.record, f"impact {str(value)[:40]!r} is not a number from 0.0 to 1.0; ignored")
            return None
        return number

    def _status(
        self, control: _Control, impact: float | None, when: dt.datetime, ctx: ParseContext
    ) -> tuple[FindingStatus | None, list[tuple[str, object]]]:
        """Open, fixed, set aside, or None (no verdict), and notes for the evidence."""
        notes: list[tuple[str, object]] = []
        waiver = obj(control.first("waiver_data"))
        justification = text(waiver.get("justification"))
        if impact == 0.0:
            return FindingStatus.SET_ASIDE, [("Not applicable", "impact 0")]
        if waiver.get("skipped_due_to_waiver") is True:
            return FindingStatus.SET_ASIDE, [("Waived, not run", justification or "no justification given")]
        statuses: list[str] = []
        for number, r in enumerate(control.results, start=1):
            if not isinstance(r, dict):
                ctx.warn(control.record, f"result {number} is not an object; the control is not read as passed")
                statuses.append("unreadable")
                continue
            if r.get("backtrace"):  # an exception in the test, as Heimdall reads it
                statuses.append("error")
                continue
            word = text(r.get("status"))
            key = (word or "").lower()
            if key in _RESULT_WORDS:
                statuses.append(key)
            elif common.dismissed(word):
                ctx.warn(control.record, f"result status {str(word)[:40]!r} is not an HDF status; read as set aside")
                statuses.append("set-aside")
            else:
                common.odd_status(ctx, control.record, word)
                statuses.append("failed")
        if not statuses:
            return None, notes
        if "failed" in statuses:
            if waiver and justification and not _expired(waiver, when):
                return FindingStatus.SET_ASIDE, [("Waived", justification)]
            return FindingStatus.OPEN, notes
        if "set-aside" in statuses:
            return FindingStatus.SET_ASIDE, notes
        if all(s == "passed" for s in statuses):
            return FindingStatus.FIXED, notes
        if "error" in statuses:
            ctx.warn(control.record, "a result is an error (the test did not complete): no verdict")
        return None, notes

    def _severity(
        self, control: _Control, tags: dict[str, Any], impact: float | None, ctx: ParseContext
    ) -> tuple[Severity, str | None]:
        """The control's severity, and the override note for the evidence."""
        listed = _word(tags.get("severity"))
        if impact is not None and impact > 0.0:
            base = _band(impact)
        else:  # no impact, or 0 (set aside: rated by its tag, never informational)
            base = listed or (Severity.MEDIUM if impact == 0.0 else common.odd_severity(ctx, control.record, None))
        raw = tags.get("severityoverride")
        override = _word(raw)
        if override is None:
            if text(raw):
                ctx.warn(control.record, f"severity override {str(raw)[:40]!r} not recognised; the impact kept")
            return base, None
        if override is base:
            return base, None
        why = text(tags.get("severityjustification"))
        return override, f"{base.value} -> {override.value}" + (f" ({why})" if why else "")


# --- helpers -----------------------------------------------------------------------------------


def _kind(value: object) -> str:
    """What a JSON value is, with its article (`an object`, `a list`)."""
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _first_skip(ctx: ParseContext) -> str:
    return next((w for w in ctx.report.warnings if w.endswith("; left out")), "?").removesuffix("; left out")


def _line(value: object) -> str | None:
    """Text on one line (InSpec titles wrap)."""
    found = text(value)
    return " ".join(found.split()) if found else None


def _block(value: object) -> str | None:
    """A description: light HTML (SonarQube's) as plain text, anything else as it is."""
    found = text(value)
    if found and _HTML.search(found):
        return common.plain(found)
    return found


def _parse_time(value: object) -> dt.datetime | None:
    """A result's start_time: ISO 8601, InSpec 1.x's `2017-09-22 14:12:44 -0400`, heimdall_tools'
    `Thu,26 Sep 2019 10:56:37`."""
    found = common.parse_time(value)
    if found is None and isinstance(value, str):
        found = common.parse_time(re.sub(r",(?=\S)", ", ", value.strip()))
    return found


def _expired(waiver: dict[str, Any], when: dt.datetime) -> bool:
    """Whether an InSpec waiver no longer held when the control ran (InSpec then runs it normally)."""
    if "expired" in (text(waiver.get("message")) or "").lower():
        return True
    until = common.parse_time(waiver.get("expiration_date"))
    return until is not None and until < when


def _word(value: object) -> Severity | None:
    found = text(value)
    return _SEVERITY_WORDS.get(" ".join(found.lower().split())) if found else None


def _band(impact: float) -> Severity:
    """Heimdall's (inspecjs `convertImpactToSeverity`) and InSpec's (`Inspec::Impact`) bands."""
    if impact >= 0.9:
        return Severity.CRITICAL
    if impact >= 0.7:
        return Severity.HIGH
    if impact >= 0.4:
        return Severity.MEDIUM
    return Severity.LOW


def _named(name: str, os_name: str | None) -> Asset | None:
    """The asset a target id or `--asset` names: an http(s) URL a web application, an ssh or
    winrm target its host, a host name or IP a host, anything else an asset of that name."""
    value = name.strip()
    m = _SCHEME.match(value)
    if m:
        scheme, rest = m.group(1).lower(), m.group(2)
        if scheme in ("http", "https"):
            return Asset(kind=AssetKind.WEB_APP, name=value[:1000])
        authority = rest.split("/", 1)[0].rpartition("@")[2]
        if scheme in ("ssh", "winrm", "winrms") and authority:
            host = authority.strip("[]") if authority.startswith("[") else authority.partition(":")[0]
            value = host or value
        else:
            return Asset(kind=AssetKind.OTHER, name=f"{scheme}://{rest.rpartition('@')[2]}"[:200])
    try:
        ipaddress.ip_address(value.strip("[]"))
        asset = host_asset(None, [value])
    except ValueError:
        asset = host_asset(value)
    if asset is None:
        return Asset(kind=AssetKind.OTHER, name=value[:200]) if value else None
    return replace(asset, os=os_name) if os_name else asset


def _flat(value: object) -> list[str]:
    """Strings of a tag that may be a string, a number, a list or an object with an `id`."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, dict):
        return _flat(value.get("id"))
    if isinstance(value, list):
        return [s for v in value for s in _flat(v)]
    return [str(value)]


def _controls(nist: object) -> tuple[str, ...]:
    """NIST SP 800-53 controls of `tags.nist` (`AC-2 (1)` -> `AC-2(1)`; `Rev_4`, `unmapped` and
    Heimdall's `UM-1` dropped)."""
    found: dict[str, None] = {}
    for raw in _flat(nist):
        control = control_id(raw)
        if control and control[:2] in _FAMILIES:
            found[control] = None
    return tuple(found)


def _weakness(
    tool: str, control: _Control, tags: dict[str, Any], severity: Severity, converted: bool, family: str | None
) -> Weakness:
    listed = control.first("descriptions")  # a list of {label, data}; a profile's JSON has an object
    pairs = (
        listed.items() if isinstance(listed, dict) else ((obj(d).get("label"), obj(d).get("data")) for d in arr(listed))
    )
    descriptions = {(text(label) or "").lower(): text(data) for label, data in pairs}
    description = _block(control.first("desc")) or _block(descriptions.get("default"))
    check = text(tags.get("check")) or descriptions.get("check")
    ccis = tuple(dict.fromkeys(m.upper() for v in _flat(tags.get("cci")) for m in _CCI.findall(v)))
    gid, rid, stig_id = (text(tags.get(k)) for k in ("gid", "rid", "stig_id"))
    stig = bool((gid and _VULN_ID.match(gid)) or (rid and _RULE_ID.match(rid)) or stig_id)
    controls = _controls(tags.get("nist"))
    flaw = bool(controls) and set(controls) <= _FLAW_CONTROLS  # a patch or vulnerability check
    cves = common.cves_in(control.id, _flat(tags.get("cve")), _flat(tags.get("cves")), _flat(tags.get("CVE")))
    cwes = common.cwes_in(_flat(tags.get("cwe")), _flat(tags.get("cwes")))
    facts = [
        f"Group {gid}" if gid and gid != control.id else "",
        f"Rule ID {rid}" if rid and rid != control.id else "",
        f"STIG ID {stig_id}" if stig_id else "",
        text(tags.get("STIGRef")) or "",
    ]
    links = [text(obj(r).get("url")) for r in arr(control.first("refs"))]
    links += [text(obj(c).get("url")) for c in (tags.get("cwe"), *arr(tags.get("cwe")))]
    return Weakness(
        tool=tool,
        vuln_id=control.id,
        name=(_line(control.first("title")) or control.id)[:1000],
        severity=severity,
        family=family,
        synopsis="; ".join(f for f in facts if f) or None,
        description="\n\n".join(p for p in (description, f"Check: {check}" if check else None) if p) or None,
        solution=_block(tags.get("fix")) or _block(descriptions.get("fix")),
        see_also="\n".join(dict.fromkeys(u for u in links if u)) or None,
        cves=cves,
        cwes=cwes,
        controls=controls,
        ccis=ccis,
        is_config=bool(ccis or stig or not (converted or cves or flaw)),
    )


def _evidence(results: list[Any], notes: list[tuple[str, object]]) -> str | None:
    """The control's results, one paragraph each (the first MAX_LISTED), and the notes."""
    parts: list[str] = []
    for r in results[:MAX_LISTED]:
        item = obj(r)
        status = ("error" if item.get("backtrace") else text(item.get("status")) or "no status").upper()
        subject = _block(item.get("code_desc")) or text(item.get("resource")) or ""
        detail = _block(item.get("skip_message") if status == "SKIPPED" else item.get("message"))
        exception = text(item.get("exception"))
        if exception and status in ("ERROR", "FAILED"):
            detail = f"{exception}: {detail}" if detail else exception
        if not subject:
            subject, detail = detail or "", None
        line = f"{status}: {subject}" + (f"\n{detail}" if detail and detail != subject else "")
        parts.append(line[:MAX_RESULT_TEXT])
    if len(results) > MAX_LISTED:
        parts.append(f"... and {len(results) - MAX_LISTED} more results")
    for label, value in notes:
        shown = text(value)
        if shown:
            parts.append(f"{label}: {shown}")
    return "\n\n".join(parts) or None
