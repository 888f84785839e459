"""The published rule tables, cell by cell, end to end through the services on SQLite and PostgreSQL.

Every expected value below is written out by hand from `../shared/docs/rules-2026.md`:
§1.3 VER-TFR-EVU (evaluation windows), VER-TFR-MAV (192 days), VER-TFR-IRI/NRI (incident forces),
§1.4 VDR-TFR-PVR (the PAIN timeframe table) and §4 BOD 26-04 Table 1 with its Appendix A and FAQ.
Nothing is read from poam's code or data files: a scan file is imported, items are evaluated (CR26)
or KEV and CISA Vulnrichment data are loaded (BOD 26-04), and `item show` must give these dates.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.services import evaluation, exposure, intel, items, systems, triage
from poam.services.importer import import_file
from tests.builders import Host, Item, write_nessus

UTC = dt.UTC
ACTOR = "tester"
DETECTED = dt.datetime(2026, 1, 5, 10, 0)  # every host's scan start: the detection time
EVALUATED_AT = "2026-01-05T12:00:00Z"  # every CR26 item is evaluated once, at this time
NOW = dt.datetime(2026, 1, 5, 13, 0, tzinfo=UTC)  # after the evaluation, before every deadline

# ---------------------------------------------------------------------------------------------
# FedRAMP CR26
# ---------------------------------------------------------------------------------------------

# §1.3 VER-TFR-EVU: evaluate within B 7 d, C 5 d, D 2 d from detection (2026-01-05T10:00:00Z).
EVALUATION_DUE = {
    "b": "2026-01-12T10:00:00Z",
    "c": "2026-01-10T10:00:00Z",
    "d": "2026-01-07T10:00:00Z",
}
EVALUATION_WINDOW = {"b": dt.timedelta(days=7), "c": dt.timedelta(days=5), "d": dt.timedelta(days=2)}

# §1.3 VER-TFR-MAV: 192 days from the (first) evaluation at 2026-01-05T12:00:00Z.
ACCEPTED_DUE = "2026-07-16T12:00:00Z"
ACCEPTED_AFTER = dt.timedelta(days=192)

# §1.4 VDR-TFR-PVR, copied from the table: class -> PAIN -> (LEV+IRV, LEV+NIRV, NLEV).
# All days, except Class D N5 LEV+IRV, 12 hours. N1 has no target.
D, H = dt.timedelta(days=1), dt.timedelta(hours=1)
PVR_TABLE = {
    "b": {
        5: (4 * D, 8 * D, 32 * D),
        4: (8 * D, 32 * D, 64 * D),
        3: (32 * D, 64 * D, 192 * D),
        2: (96 * D, 160 * D, 192 * D),
    },
    "c": {
        5: (2 * D, 4 * D, 16 * D),
        4: (4 * D, 8 * D, 64 * D),
        3: (16 * D, 32 * D, 128 * D),
        2: (48 * D, 128 * D, 192 * D),
    },
    "d": {
        5: (12 * H, 1 * D, 8 * D),
        4: (2 * D, 8 * D, 32 * D),
        3: (8 * D, 16 * D, 64 * D),
        2: (24 * D, 96 * D, 192 * D),
    },
}

# The same cells as due times, counted by hand from the evaluation at 2026-01-05T12:00:00Z.
PVR_DUE = {
    "b": {
        5: ("2026-01-09T12:00:00Z", "2026-01-13T12:00:00Z", "2026-02-06T12:00:00Z"),
        4: ("2026-01-13T12:00:00Z", "2026-02-06T12:00:00Z", "2026-03-10T12:00:00Z"),
        3: ("2026-02-06T12:00:00Z", "2026-03-10T12:00:00Z", "2026-07-16T12:00:00Z"),
        2: ("2026-04-11T12:00:00Z", "2026-06-14T12:00:00Z", "2026-07-16T12:00:00Z"),
    },
    "c": {
        5: ("2026-01-07T12:00:00Z", "2026-01-09T12:00:00Z", "2026-01-21T12:00:00Z"),
        4: ("2026-01-09T12:00:00Z", "2026-01-13T12:00:00Z", "2026-03-10T12:00:00Z"),
        3: ("2026-01-21T12:00:00Z", "2026-02-06T12:00:00Z", "2026-05-13T12:00:00Z"),
        2: ("2026-02-22T12:00:00Z", "2026-05-13T12:00:00Z", "2026-07-16T12:00:00Z"),
    },
    "d": {
        5: ("2026-01-06T00:00:00Z", "2026-01-06T12:00:00Z", "2026-01-13T12:00:00Z"),
        4: ("2026-01-07T12:00:00Z", "2026-01-13T12:00:00Z", "2026-02-06T12:00:00Z"),
        3: ("2026-01-13T12:00:00Z", "2026-01-21T12:00:00Z", "2026-03-10T12:00:00Z"),
        2: ("2026-01-29T12:00:00Z", "2026-04-11T12:00:00Z", "2026-07-16T12:00:00Z"),
    },
}

# (label, IRV, LEV, index of the table's column). NLEV is one column whatever the reachability:
# it is evaluated both NIRV and IRV.
COMBOS = [
    ("irv_lev", True, True, 0),
    ("nirv_lev", False, True, 1),
    ("nlev", False, False, 2),
    ("nlev_irv", True, False, 2),
]
COLUMN_NAMES = ("irv_lev", "nirv_lev", "nlev")

# §1.3 VER-TFR-IRI (IRV+LEV above N3): B MAY, C and D SHOULD.
# §1.3 VER-TFR-NRI (NIRV+LEV at N5): B and C MAY, D SHOULD.
IRI_FORCE = {"b": "MAY", "c": "SHOULD", "d": "SHOULD"}
NRI_FORCE = {"b": "MAY", "c": "MAY", "d": "SHOULD"}


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_hand_counted_dates_match_the_published_durations() -> None:
    """A check of this file's two hand-written tables against each other (no poam code involved)."""
    start = _at(EVALUATED_AT)
    for cls, rows in PVR_TABLE.items():
        for pain, cells in rows.items():
            assert tuple(_iso(start + c) for c in cells) == PVR_DUE[cls][pain], (cls, pain)
    detected = DETECTED.replace(tzinfo=UTC)
    assert {c: _iso(detected + w) for c, w in EVALUATION_WINDOW.items()} == EVALUATION_DUE
    assert _iso(start + ACCEPTED_AFTER) == ACCEPTED_DUE


def _plugin(pain: int, combo: int) -> str:
    return f"7{pain}{combo:02d}"


def _poam_ids(engine: Engine, system: str) -> dict[str, str]:
    """Plugin id -> POA&M id of the system's open items."""
    _, listed = items.list_items(engine, system)
    return {i.source_identifier: i.poam_id for i in listed}


def _deadlines(shown: dict[str, Any]) -> dict[str, dict[str, Any]]:
    kinds = [d["kind"] for d in shown["deadlines"]]
    assert len(kinds) == len(set(kinds)), kinds
    return {d["kind"]: d for d in shown["deadlines"]}


@pytest.mark.parametrize("cls", ["b", "c", "d"])
def test_cr26_pain_timeframes_evaluation_window_and_acceptance(engine: Engine, tmp_path: Path, cls: str) -> None:
    name = f"cr26-{cls}"
    systems.add_system(engine, name, ACTOR, impact="moderate", policy="fedramp-cr26", fedramp_class=cls)
    plan = [(pain, i, irv, lev) for pain in (5, 4, 3, 2, 1) for i, (_, irv, lev, _col) in enumerate(COMBOS)]
    scan_items = [Item(plugin=_plugin(pain, i), cvss3=7.5) for pain, i, _, _ in plan]
    path = write_nessus(tmp_path / f"{name}.nessus", [Host("app01", ip="10.0.0.1", start=DETECTED, items=scan_items)])
    result = import_file(engine, path, system=name, actor=ACTOR, parallel=False)
    assert len(result.opened_ids) == len(plan) == 20
    ids = _poam_ids(engine, name)
    for pain, i, irv, lev in plan:
        evaluation.evaluate(
            engine,
            name,
            ids[_plugin(pain, i)],
            ACTOR,
            irv=irv,
            lev=lev,
            pain=pain,
            rationale=f"N{pain} {COMBOS[i][0]}",
            at=EVALUATED_AT,
            now=NOW,
        )

    shown = {(pain, i): triage.show(engine, name, ids[_plugin(pain, i)], now=NOW) for pain, i, _, _ in plan}

    # VDR-TFR-PVR: every cell of the class's column of the table; N1 has no next reduction.
    got_pvr: dict[tuple[int, str], Any] = {}
    want_pvr: dict[tuple[int, str], Any] = {}
    for pain, i, irv, lev in plan:
        label, _, _, col = COMBOS[i]
        nxt = _deadlines(shown[(pain, i)]).get("next_reduction")
        got_pvr[(pain, label)] = (
            None
            if nxt is None
            else {
                "due": nxt["due"],
                "rule": nxt["rule"],
                "clock_start": nxt["clock_start"],
                "pain": nxt["inputs"].get("pain"),
                "irv": nxt["inputs"].get("irv"),
                "lev": nxt["inputs"].get("lev"),
                "column": nxt["inputs"].get("column"),
                "target": nxt["inputs"].get("target"),
            }
        )
        want_pvr[(pain, label)] = (
            None
            if pain == 1
            else {
                "due": PVR_DUE[cls][pain][col],
                "rule": "VDR-TFR-PVR",
                "clock_start": EVALUATED_AT,
                "pain": pain,
                "irv": irv,
                "lev": lev,
                "column": COLUMN_NAMES[col],
                "target": pain - 1,
            }
        )
    assert got_pvr == want_pvr

    # VER-TFR-EVU (met by the evaluation) and VER-TFR-MAV, the same for every item of the class.
    for key, item in shown.items():
        dls = _deadlines(item)
        assert {
            "evaluation": (dls["evaluation"]["due"], dls["evaluation"]["clock_start"], dls["evaluation"]["met_at"]),
            "accepted": (dls["accepted"]["due"], dls["accepted"]["clock_start"]),
            "late": item["late"],
        } == {
            "evaluation": (EVALUATION_DUE[cls], "2026-01-05T10:00:00Z", EVALUATED_AT),
            "accepted": (ACCEPTED_DUE, EVALUATED_AT),
            "late": False,
        }, key
        assert dls["evaluation"]["rule"] == "VER-TFR-EVU" and dls["accepted"]["rule"] == "VER-TFR-MAV", key
        assert set(dls) == ({"evaluation", "accepted"} if key[0] == 1 else {"evaluation", "next_reduction", "accepted"})

    # VER-TFR-IRI / VER-TFR-NRI: the possible-incident flags with the class's force.
    got_flags = {
        (pain, COMBOS[i][0]): sorted(
            (f["rule"], f["force"]) for f in shown[(pain, i)]["flags"] if f["kind"] == "incident"
        )
        for pain, i, _, _ in plan
    }
    want_flags: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for pain, i, irv, lev in plan:
        flags = []
        if irv and lev and pain > 3:
            flags.append(("VER-TFR-IRI", IRI_FORCE[cls]))
        if not irv and lev and pain == 5:
            flags.append(("VER-TFR-NRI", NRI_FORCE[cls]))
        want_flags[(pain, COMBOS[i][0])] = sorted(flags)
    assert got_flags == want_flags


def test_cr26_an_item_not_yet_evaluated_has_only_its_evaluation_window(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "cr26-d", ACTOR, policy="fedramp-cr26", fedramp_class="d")
    path = write_nessus(tmp_path / "d.nessus", [Host("app01", ip="10.0.0.1", start=DETECTED, items=[Item("7001")])])
    (poam_id,) = import_file(engine, path, system="cr26-d", actor=ACTOR, parallel=False).opened_ids
    shown = triage.show(engine, "cr26-d", poam_id, now=NOW)
    dls = _deadlines(shown)
    assert set(dls) == {"evaluation"}
    assert (dls["evaluation"]["due"], dls["evaluation"]["met_at"]) == ("2026-01-07T10:00:00Z", None)
    assert shown["awaiting_evaluation"] is True


# ---------------------------------------------------------------------------------------------
# CISA BOD 26-04 Table 1
# ---------------------------------------------------------------------------------------------

# §4 Table 1: row -> (publicly exposed, in KEV, automatable, technical impact total, days, forensic triage).
# days None: "Fix on system upgrade".
TABLE_1 = {
    1: (True, True, True, True, 3, True),
    2: (True, True, True, False, 3, False),
    3: (True, True, False, True, 3, True),
    4: (True, True, False, False, 14, False),
    5: (True, False, True, True, 3, False),
    6: (True, False, True, False, 14, False),
    7: (True, False, False, True, 14, False),
    8: (True, False, False, False, 60, False),
    9: (False, True, True, True, 3, True),
    10: (False, True, True, False, 14, False),
    11: (False, True, False, True, 14, False),
    12: (False, True, False, False, 14, False),
    13: (False, False, True, True, 60, False),
    14: (False, False, True, False, 60, False),
    15: (False, False, False, True, None, False),
    16: (False, False, False, False, None, False),
}
# The same rows' due times, counted by hand from detection (2026-01-05T10:00:00Z; every KEV
# addition of these rows is later, so the clock is detection): 3 d, 14 d, 60 d or no date.
TABLE_1_DUE = {
    1: "2026-01-08T10:00:00Z",
    2: "2026-01-08T10:00:00Z",
    3: "2026-01-08T10:00:00Z",
    4: "2026-01-19T10:00:00Z",
    5: "2026-01-08T10:00:00Z",
    6: "2026-01-19T10:00:00Z",
    7: "2026-01-19T10:00:00Z",
    8: "2026-03-06T10:00:00Z",
    9: "2026-01-08T10:00:00Z",
    10: "2026-01-19T10:00:00Z",
    11: "2026-01-19T10:00:00Z",
    12: "2026-01-19T10:00:00Z",
    13: "2026-03-06T10:00:00Z",
    14: "2026-03-06T10:00:00Z",
    15: None,
    16: None,
}

PUBLIC_IP, INTERNAL_IP, UNKNOWN_IP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
LATE_KEV_ADDED = "2026-01-20"  # after detection: the clock stays at detection
EARLY_KEV_ADDED = "2026-01-01"  # before detection: the clock starts at 2026-01-01T00:00:00Z

# Extra cases besides the 16 rows: (plugin, CVE, host IP).
TRIAGE_BY_KEV = ("8101", "CVE-2026-10101", INTERNAL_IP)  # row 10 whose KEV record says forensicTriage Yes
KEV_FIRST = ("8102", "CVE-2026-10102", PUBLIC_IP)  # row 4, KEV added before detection
NO_METADATA = ("8103", "CVE-2026-10103", PUBLIC_IP)  # not in KEV, no SSVC record
UNKNOWN_EXPOSURE = ("8104", "CVE-2026-10104", UNKNOWN_IP)  # row 8's values on an unclassified asset
NO_CVE = ("8105", None, PUBLIC_IP)  # no CVE: outside the directive, fedramp-rev5 fallback


def _row_cve(row: int) -> str:
    return f"CVE-2026-{10000 + row}"


def _row_plugin(row: int) -> str:
    return str(8000 + row)


def _kev_entry(cve: str, added: str, due: str, forensic: str | None = None) -> dict[str, str]:
    entry = {
        "cveID": cve,
        "vendorProject": "Example",
        "product": "Widget",
        "vulnerabilityName": f"Example Widget flaw {cve}",
        "dateAdded": added,
        "shortDescription": "A made-up flaw for tests.",
        "requiredAction": "Apply mitigations per vendor instructions.",
        "dueDate": due,
        "knownRansomwareCampaignUse": "Unknown",
        "notes": "",
        "cwes": [],
    }
    if forensic is not None:
        entry["forensicTriage"] = forensic
    return entry


def _vulnrichment_record(cve: str, exploitation: str, automatable: str, impact: str) -> dict[str, Any]:
    """A minimal CVE JSON 5 record with CISA's ADP SSVC decision."""
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {"cveId": cve, "state": "PUBLISHED", "assignerShortName": "example"},
        "containers": {
            "cna": {"providerMetadata": {"orgId": "00000000-0000-0000-0000-000000000000"}},
            "adp": [
                {
                    "title": "CISA ADP Vulnrichment",
                    "providerMetadata": {
                        "orgId": "134c704f-9b21-4f2e-91b3-4a467353bcc0",
                        "shortName": "CISA-ADP",
                        "dateUpdated": "2026-01-02T00:00:00.000Z",
                    },
                    "metrics": [
                        {
                            "other": {
                                "type": "ssvc",
                                "content": {
                                    "timestamp": "2026-01-02T00:00:00.000000Z",
                                    "id": cve,
                                    "options": [
                                        {"Exploitation": exploitation},
                                        {"Automatable": automatable},
                                        {"Technical Impact": impact},
                                    ],
                                    "role": "CISA Coordinator",
                                    "version": "2.0.3",
                                },
                            }
                        }
                    ],
                }
            ],
        },
    }


def _bod_system(engine: Engine, tmp_path: Path) -> dict[str, str]:
    """A bod-26-04 system with one item per Table 1 row and per extra case; returns plugin -> POA&M id."""
    systems.add_system(engine, "bod", ACTOR, policy="bod-26-04")
    by_host: dict[str, list[Item]] = {PUBLIC_IP: [], INTERNAL_IP: [], UNKNOWN_IP: []}
    kev_entries = []
    vuln_dir = tmp_path / "vulnrichment" / "2026" / "10xxx"
    vuln_dir.mkdir(parents=True)

    def ssvc(cve: str, kev: bool, automatable: bool, total: bool) -> None:
        record = _vulnrichment_record(
            cve, "active" if kev else "none", "yes" if automatable else "no", "total" if total else "partial"
        )
        (vuln_dir / f"{cve}.json").write_text(json.dumps(record), encoding="utf-8")

    for row, (public, in_kev, automatable, total, _, _) in TABLE_1.items():
        cve = _row_cve(row)
        by_host[PUBLIC_IP if public else INTERNAL_IP].append(Item(plugin=_row_plugin(row), cves=(cve,), cvss3=7.5))
        ssvc(cve, in_kev, automatable, total)
        if in_kev:
            kev_entries.append(_kev_entry(cve, LATE_KEV_ADDED, "2026-02-10"))
    # Row 10's values; the KEV record asks for forensic triage though the row does not.
    by_host[TRIAGE_BY_KEV[2]].append(Item(plugin=TRIAGE_BY_KEV[0], cves=(TRIAGE_BY_KEV[1],), cvss3=7.5))
    ssvc(TRIAGE_BY_KEV[1], True, True, False)
    kev_entries.append(_kev_entry(TRIAGE_BY_KEV[1], LATE_KEV_ADDED, "2026-01-23", forensic="Yes"))
    # Row 4's values, added to KEV before detection.
    by_host[KEV_FIRST[2]].append(Item(plugin=KEV_FIRST[0], cves=(KEV_FIRST[1],), cvss3=7.5))
    ssvc(KEV_FIRST[1], True, False, False)
    kev_entries.append(_kev_entry(KEV_FIRST[1], EARLY_KEV_ADDED, "2026-01-22", forensic="No"))
    # Neither in KEV nor in Vulnrichment.
    by_host[NO_METADATA[2]].append(Item(plugin=NO_METADATA[0], cves=(NO_METADATA[1],), cvss3=9.8))
    # Row 8's values (not KEV, not automatable, partial) on an asset nobody classified.
    by_host[UNKNOWN_EXPOSURE[2]].append(Item(plugin=UNKNOWN_EXPOSURE[0], cves=(UNKNOWN_EXPOSURE[1],), cvss3=7.5))
    ssvc(UNKNOWN_EXPOSURE[1], False, False, False)
    # No CVE at all: a configuration finding rated High (CVSS v3 8.0).
    by_host[NO_CVE[2]].append(Item(plugin=NO_CVE[0], cvss3=8.0, severity=3))

    hosts = [
        Host("web01", ip=PUBLIC_IP, start=DETECTED, items=by_host[PUBLIC_IP]),
        Host("db01", ip=INTERNAL_IP, start=DETECTED, items=by_host[INTERNAL_IP]),
        Host("misc01", ip=UNKNOWN_IP, start=DETECTED, items=by_host[UNKNOWN_IP]),
    ]
    result = import_file(
        engine, write_nessus(tmp_path / "bod.nessus", hosts), system="bod", actor=ACTOR, parallel=False
    )
    assert len(result.opened_ids) == 16 + 5
    exposure.set_asset(engine, "bod", PUBLIC_IP, "public", None, ACTOR)
    exposure.set_asset(engine, "bod", INTERNAL_IP, "internal", None, ACTOR)

    catalog = {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.01.25",
        "dateReleased": "2026-01-25T12:00:00.000Z",
        "count": len(kev_entries),
        "vulnerabilities": kev_entries,
    }
    kev_path = tmp_path / "known_exploited_vulnerabilities.json"
    kev_path.write_text(json.dumps(catalog), encoding="utf-8")
    assert intel.load(engine, kev_path, ACTOR).records == len(kev_entries)
    assert intel.load(engine, tmp_path / "vulnrichment", ACTOR).records == 16 + 3
    return _poam_ids(engine, "bod")


def _remediation(shown: dict[str, Any]) -> dict[str, Any]:
    dls = _deadlines(shown)
    assert set(dls) == {"remediation"}, dls
    return dls["remediation"]


def _triage_flagged(shown: dict[str, Any]) -> bool:
    flags = [f for f in shown["flags"] if f["kind"] == "forensic_triage"]
    assert shown["forensic_triage"] is bool(flags), shown["flags"]
    return bool(flags)


def test_bod_26_04_table_1_every_row(engine: Engine, tmp_path: Path) -> None:
    ids = _bod_system(engine, tmp_path)
    got: dict[int, Any] = {}
    want: dict[int, Any] = {}
    for row, (public, in_kev, automatable, total, days, forensic) in TABLE_1.items():
        shown = triage.show(engine, "bod", ids[_row_plugin(row)], now=NOW)
        d = _remediation(shown)
        got[row] = {
            "due": d["due"],
            "rule": d["rule"],
            "clock_start": d["clock_start"],
            "row": d["inputs"].get("row"),
            "public": d["inputs"].get("public"),
            "kev": d["inputs"].get("kev"),
            "automatable": d["inputs"].get("automatable"),
            "technical_impact": d["inputs"].get("technical_impact"),
            "exposure": shown["exposure"],
            "forensic_triage": _triage_flagged(shown),
        }
        want[row] = {
            "due": TABLE_1_DUE[row],
            "rule": f"BOD 26-04 Table 1 row {row}",
            "clock_start": "2026-01-05T10:00:00Z",
            "row": row,
            "public": public,
            "kev": in_kev,
            "automatable": "yes" if automatable else "no",
            "technical_impact": "total" if total else "partial",
            "exposure": "public" if public else "internal",
            "forensic_triage": forensic,
        }
        if days is not None:  # the hand-counted date is detection plus the row's calendar days
            assert _iso(DETECTED.replace(tzinfo=UTC) + dt.timedelta(days=days)) == TABLE_1_DUE[row]
    assert got == want


class Mentions:
    """Equal to a rule text that contains every one of these words."""

    def __init__(self, *words: str) -> None:
        self.words = words

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and all(w in other for w in self.words)

    def __hash__(self) -> int:
        return hash(self.words)

    def __repr__(self) -> str:
        return f"<a rule mentioning {' and '.join(map(repr, self.words))}>"


# The cases beside the 16 rows (§4 Appendix A and FAQ), each due counted by hand.
BESIDE_TABLE_1 = {
    # Row 10 (internal, KEV, automatable, partial): 14 days from detection, and forensic triage
    # because the KEV record says "forensicTriage": "Yes" though the row does not ask for it.
    TRIAGE_BY_KEV[0]: {
        "rule": "BOD 26-04 Table 1 row 10",
        "clock_start": "2026-01-05T10:00:00Z",
        "due": "2026-01-19T10:00:00Z",
        "forensic_triage": True,
        "exposure": "internal",
    },
    # Row 4 (public, KEV, not automatable, partial): 14 days from the KEV addition on 2026-01-01
    # (00:00Z), which came before detection ("whichever event occurs first").
    KEV_FIRST[0]: {
        "rule": "BOD 26-04 Table 1 row 4",
        "clock_start": "2026-01-01T00:00:00Z",
        "due": "2026-01-15T00:00:00Z",
        "forensic_triage": False,
        "exposure": "public",
    },
    # The same row added to KEV after detection (2026-01-20): a later addition never lengthens the
    # clock, which stays at detection.
    _row_plugin(4): {
        "rule": "BOD 26-04 Table 1 row 4",
        "clock_start": "2026-01-05T10:00:00Z",
        "due": "2026-01-19T10:00:00Z",
        "forensic_triage": False,
        "exposure": "public",
    },
    # FAQ: no CVE metadata and not in KEV is 60 days (even on a public asset, CVSS 9.8).
    NO_METADATA[0]: {
        "rule": Mentions("no CVE metadata"),
        "clock_start": "2026-01-05T10:00:00Z",
        "due": "2026-03-06T10:00:00Z",
        "forensic_triage": False,
        "exposure": "public",
    },
    # FAQ: an asset with no exposure data is publicly exposed: row 8 (60 days), not row 16 (no date).
    UNKNOWN_EXPOSURE[0]: {
        "rule": "BOD 26-04 Table 1 row 8",
        "clock_start": "2026-01-05T10:00:00Z",
        "due": "2026-03-06T10:00:00Z",
        "forensic_triage": False,
        "exposure": "unknown",
    },
    # FAQ: flaws without a CVE are out of scope; the fedramp-rev5 fallback gives High 30 days.
    NO_CVE[0]: {
        "rule": Mentions("fallback", "fedramp-rev5"),
        "clock_start": "2026-01-05T10:00:00Z",
        "due": "2026-02-04T10:00:00Z",
        "forensic_triage": False,
        "exposure": "public",
    },
}


def test_bod_26_04_kev_triage_kev_clock_missing_metadata_unknown_exposure_and_no_cve(
    engine: Engine, tmp_path: Path
) -> None:
    ids = _bod_system(engine, tmp_path)
    got = {}
    for plugin in BESIDE_TABLE_1:
        shown = triage.show(engine, "bod", ids[plugin], now=NOW)
        d = _remediation(shown)
        got[plugin] = {
            "rule": d["rule"],
            "clock_start": d["clock_start"],
            "due": d["due"],
            "forensic_triage": _triage_flagged(shown),
            "exposure": shown["exposure"],
        }
    assert got == BESIDE_TABLE_1
    no_cve = triage.show(engine, "bod", ids[NO_CVE[0]], now=NOW)
    assert no_cve["cves"] == [] and no_cve["original_risk"] == "High"
