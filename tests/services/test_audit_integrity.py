"""The audit log's integrity, probed by tampering with the database directly (issue: a chain alone
misses an emptied log, dropped newest events, a recomputed chain, an item edited without an event):
the anchor (`verify --head`), the HMAC key (`$POAM_AUDIT_KEY_FILE`, `verify --key`) and the item
seals (`items.sealed` events), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, update

from poam.errors import UsageError
from poam.services import audit, evaluation, planning, seals, systems
from poam.services.importer import import_file
from poam.store.tables import audit_events, item_seals, items, milestone_changes, milestones, settings
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(bytes(range(48)))
    monkeypatch.setenv(audit.KEY_ENV, str(path))
    return path


def build(engine: Engine, tmp_path: Path) -> str:
    """A system with three items (one evaluated, one planned); returns the head hash."""
    systems.add_system(engine, "cso", "t", policy="fedramp-cr26")
    hosts = [Host("web", ip="10.0.0.5", start=JAN, items=[Item("100", cvss3=9.8), Item("200"), Item("300")])]
    import_file(engine, write_nessus(tmp_path / "jan.nessus", hosts), system="cso", actor="t")
    evaluation.evaluate(engine, "cso", "V-1", "alice", irv=True, pain=3, rationale="r", at="2026-01-06T00:00:00Z")
    planning.set_fields(engine, "cso", "V-2", "bob", hours=4, plan="patch")
    with engine.connect() as conn:
        return audit.head(conn)[0]


def verify(engine: Engine, anchor: str | None = None, key: Path | None = None) -> audit.Verification:
    with engine.connect() as conn:
        return audit.verify(conn, anchor, audit.load_key(key) if key else None)


def problems(res: audit.Verification) -> list[str]:
    return [str(p) for p in res.item_problems]


def test_an_intact_database_passes_and_every_item_is_sealed(engine: Engine, tmp_path: Path) -> None:
    anchor = build(engine, tmp_path)
    res = verify(engine, anchor)
    assert res.ok and res.anchor_found and res.items_checked == 3 and res.keyed == 0
    with engine.connect() as conn:
        sealed = [
            json.loads(r.detail)
            for r in conn.execute(select(audit_events).where(audit_events.c.action == seals.SEALED))
        ]
        assert conn.execute(select(func.count()).select_from(item_seals)).scalar_one() == 3
    assert set(sealed[0]) == {"V-1", "V-2", "V-3"}  # the import sealed them all
    assert [set(s) for s in sealed[1:]] == [{"V-1"}, {"V-2"}]  # then each change its item


def test_an_import_that_closes_items_and_a_system_removal_stay_intact(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    feb = [Host("web", ip="10.0.0.5", start=FEB, items=[Item("100", cvss3=9.8)])]
    r = import_file(engine, write_nessus(tmp_path / "feb.nessus", feb), system="cso", actor="t")
    assert r.items_closed == 2
    res = verify(engine)
    assert res.ok and res.items_checked == 3, problems(res)
    systems.add_system(engine, "other", "t")
    other = [Host("db", ip="10.0.0.9", start=JAN, items=[Item("900")])]
    import_file(engine, write_nessus(tmp_path / "o.nessus", other), system="other", actor="t")
    systems.remove_system(engine, "cso", "admin")
    res = verify(engine)
    assert res.ok and res.items_checked == 1, problems(res)


def test_an_edited_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:
        target = conn.execute(select(audit_events.c.id).where(audit_events.c.action == "item.evaluate")).scalar_one()
        conn.execute(update(audit_events).where(audit_events.c.id == target).values(actor="mallory"))
    res = verify(engine)
    assert res.broken_event == target and "hash does not match" in (res.broken_reason or "")
    assert res.items_checked == 0 and not res.ok  # the seals of a broken log prove nothing


def test_a_removed_middle_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:
        ids = conn.execute(select(audit_events.c.id).order_by(audit_events.c.id)).scalars().all()
        conn.execute(delete(audit_events).where(audit_events.c.id == ids[len(ids) // 2]))
    res = verify(engine)
    assert res.broken_event == ids[len(ids) // 2 + 1] and "previous hash" in (res.broken_reason or "")


def test_emptying_the_log_and_its_head_is_caught(engine: Engine, tmp_path: Path) -> None:
    anchor = build(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(delete(audit_events))
        conn.execute(delete(settings).where(settings.c.key == audit._HEAD))
    res = verify(engine)
    assert res.chain_intact and res.events == 0
    assert len(res.item_problems) == 3 and problems(res)[0] == "item V-1 (system cso) has no audit event"
    assert verify(engine, anchor).anchor_found is False


def test_emptying_the_log_but_not_its_head_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(delete(audit_events))
    assert verify(engine).head_problem == "the log is empty but has a head"


def test_dropping_the_newest_events_and_fixing_the_head_is_caught(engine: Engine, tmp_path: Path) -> None:
    anchor = build(engine, tmp_path)
    with engine.begin() as conn:
        keep = conn.execute(select(audit_events.c.id).where(audit_events.c.action == "item.set")).scalar_one()
        new_head = conn.execute(select(audit_events.c.prev_hash).where(audit_events.c.id == keep)).scalar_one()
        conn.execute(delete(audit_events).where(audit_events.c.id >= keep))  # the plan of V-2 and its seal
        conn.execute(update(settings).where(settings.c.key == audit._HEAD).values(value=new_head))
    res = verify(engine)
    assert res.chain_intact and problems(res) == ["item V-2 (system cso) changed without an audit event"]
    res = verify(engine, anchor)
    assert res.anchor_found is False and res.broken == audit.ANCHOR_MISSING


def test_a_recomputed_chain_is_caught_with_the_key(engine: Engine, tmp_path: Path, key_file: Path) -> None:
    anchor = build(engine, tmp_path)
    res = verify(engine, key=key_file)
    assert res.ok and res.keyed == res.authenticated == res.events
    with engine.connect() as conn:
        key_ids = set(conn.execute(select(audit_events.c.key_id)).scalars())
    assert key_ids == {audit.load_key(key_file).key_id}
    assert not verify(engine).authenticated and verify(engine).ok  # without the key: linkage only
    with engine.begin() as conn:  # rewrite who evaluated, recompute everything with plain SHA-256
        prev = audit.GENESIS
        for r in conn.execute(select(audit_events).order_by(audit_events.c.id)).all():
            actor = "mallory" if r.action == "item.evaluate" else r.actor
            digest = audit._digest(prev, r.at, actor, r.system_id, r.action, r.entity, r.entity_id, r.detail)
            values = {"actor": actor, "prev_hash": prev, "hash": digest, "key_id": None}
            conn.execute(update(audit_events).where(audit_events.c.id == r.id).values(**values))
            prev = digest
        conn.execute(update(settings).where(settings.c.key == audit._HEAD).values(value=prev))
    assert verify(engine).ok  # a consistent forgery, without the key or the anchor
    res = verify(engine, key=key_file)
    assert res.key_problem == audit.NO_KEYED_EVENT and not res.ok
    assert verify(engine, anchor).anchor_found is False


def test_keyed_events_cannot_be_forged_or_downgraded(
    engine: Engine, tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:  # the same keyed chain, recomputed under a key of the forger's
        prev, forged = audit.GENESIS, audit.load_key(_key(tmp_path / "other.key", 7))
        for r in conn.execute(select(audit_events).order_by(audit_events.c.id)).all():
            digest = audit._digest(
                prev, r.at, r.actor, r.system_id, r.action, r.entity, r.entity_id, r.detail, forged.secret
            )
            conn.execute(update(audit_events).where(audit_events.c.id == r.id).values(prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(settings).where(settings.c.key == audit._HEAD).values(value=prev))
    res = verify(engine, key=key_file)
    assert res.broken_event == 1 and "HMAC does not match" in (res.broken_reason or "")
    monkeypatch.delenv(audit.KEY_ENV)  # without the key, poam refuses to write: nothing changes
    with pytest.raises(UsageError, match="the audit log is keyed"):
        planning.set_fields(engine, "cso", "V-3", "bob", hours=1)
    monkeypatch.setenv(audit.KEY_ENV, str(_key(tmp_path / "third.key", 9)))  # nor under another key
    with pytest.raises(UsageError, match="the audit log is keyed"):
        planning.set_fields(engine, "cso", "V-3", "bob", hours=1)
    with engine.begin() as conn:  # an unkeyed event appended by hand after keyed ones breaks the chain
        head = conn.execute(select(settings.c.value).where(settings.c.key == audit._HEAD)).scalar_one()
        at = audit.now()
        digest = audit._digest(head, at, "mallory", None, "x", "system", None, "{}", None)
        conn.execute(
            audit_events.insert().values(
                at=at, actor="mallory", action="x", entity="system", detail="{}", prev_hash=head, hash=digest
            )
        )
        conn.execute(update(settings).where(settings.c.key == audit._HEAD).values(value=digest))
    assert "not keyed" in (verify(engine).broken_reason or "")


def _key(path: Path, fill: int) -> Path:
    path.write_bytes(bytes([fill]) * 32)
    return path


def test_a_short_or_missing_key_file_is_refused(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 31)
    monkeypatch.setenv(audit.KEY_ENV, str(short))
    with pytest.raises(UsageError, match="holds 31 bytes; a key needs at least 32"):
        systems.add_system(engine, "cso", "t")
    monkeypatch.setenv(audit.KEY_ENV, str(tmp_path / "absent.key"))
    with pytest.raises(UsageError, match="absent.key: cannot read it"):
        systems.add_system(engine, "cso", "t")
    assert systems.list_systems(engine) == []  # nothing was written


def test_an_item_edited_without_an_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(items).where(items.c.poam_id == "V-3").values(adjusted_risk="Low", risk_adjustment="Yes"))
        conn.execute(update(items).where(items.c.poam_id == "V-1").values(rules_stale=True, next_due=None))  # a cache
    assert problems(verify(engine)) == ["item V-3 (system cso) changed without an audit event"]
    planning.set_fields(engine, "cso", "V-1", "bob", hours=2)  # a change of another item does not seal V-3,
    (found,) = problems(verify(engine))  # and the check before it recorded V-3's edit
    assert found.startswith("item V-3 (system cso) was changed without an audit event, found when a later change")


def test_a_milestone_edited_without_an_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    item_id = select(items.c.id).where(items.c.poam_id == "V-2").scalar_subquery()
    with engine.begin() as conn:
        conn.execute(update(milestones).where(milestones.c.item_id == item_id).values(due_date=dt.date(2030, 1, 1)))
    assert problems(verify(engine)) == ["item V-2 (system cso) changed without an audit event"]


def test_a_milestone_change_added_without_an_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:
        item_id = conn.execute(select(items.c.id).where(items.c.poam_id == "V-1")).scalar_one()
        conn.execute(
            milestone_changes.insert().values(
                item_id=item_id, number=1, kind="complete", change_date=dt.date(2026, 1, 7), text="done", created_at=JAN
            )
        )
    assert problems(verify(engine)) == ["item V-1 (system cso) changed without an audit event"]


def test_an_item_deleted_or_added_without_an_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:
        row = conn.execute(select(items).where(items.c.poam_id == "V-3")).mappings().one()
        conn.execute(delete(milestones).where(milestones.c.item_id == row["id"]))
        conn.execute(delete(items).where(items.c.id == row["id"]))
        copy = {k: v for k, v in row.items() if k != "id"} | {"poam_id": "V-9", "seq": 9}
        conn.execute(items.insert().values(**copy))
    assert problems(verify(engine)) == [
        "item V-9 (system cso) has no audit event",
        "item V-3 (system cso) removed without an audit event",
    ]


def test_every_items_column_is_either_sealed_or_derived() -> None:
    state = set(seals.STATE) | set(seals.IMPORTED)
    assert len(state) == len(seals.STATE) + len(seals.IMPORTED) and not state & seals.DERIVED
    assert state | seals.DERIVED == set(items.c.keys())


def test_a_database_from_before_seals_is_sealed_once_on_request(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:  # poam before item seals: events, but no items.sealed
        m.setattr(seals, "scope", lambda events: None)
        build(engine, tmp_path)
    res = verify(engine)
    assert not res.ok and len(res.item_problems) == 3
    assert all("has no audit event" in p for p in problems(res))
    with engine.begin() as conn:
        assert audit.seal_all(conn, "isso") == 3
    assert verify(engine).ok
    with engine.begin() as conn:
        assert audit.seal_all(conn, "isso") == 0  # nothing left to seal; the request is still logged
        actions = conn.execute(select(audit_events.c.action).order_by(audit_events.c.id)).scalars().all()
    assert actions.count("audit.seal") == 2 and actions.count(seals.SEALED) == 1


def test_a_deviation_edited_without_an_event_is_caught(engine: Engine, tmp_path: Path) -> None:
    from poam.services import deviations as deviation_service
    from poam.store.tables import deviations

    build(engine, tmp_path)
    deviation_service.request(engine, "cso", "V-3", "alice", "fp", "not there")
    deviation_service.approve(engine, "cso", "V-3", "bob", "fp")
    assert verify(engine).ok
    with engine.begin() as conn:  # pretend the requester approved it herself
        conn.execute(update(deviations).values(approver="alice"))
    assert problems(verify(engine)) == ["item V-3 (system cso) changed without an audit event"]


def test_a_later_change_cannot_launder_an_edit_made_outside_poam(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with engine.begin() as conn:  # edited behind poam's back, the cache of seals "fixed" too
        conn.execute(update(items).where(items.c.poam_id == "V-3").values(point_of_contact="Mallory"))
        conn.execute(delete(item_seals))
    assert problems(verify(engine)) == ["item V-3 (system cso) changed without an audit event"]
    # the next month's import (which reseals every item it touches) and a person's edit of the item
    hosts = [Host("web", ip="10.0.0.5", start=FEB, items=[Item("100", cvss3=9.8), Item("200"), Item("300")])]
    import_file(engine, write_nessus(tmp_path / "feb.nessus", hosts), system="cso", actor="t")
    planning.set_fields(engine, "cso", "V-3", "bob", hours=2)
    found = problems(verify(engine))
    assert len(found) == 1 and found[0].startswith("item V-3 (system cso) was changed without an audit event")
    with engine.connect() as conn:
        flagged = conn.execute(select(audit_events.c.detail).where(audit_events.c.action == seals.UNSEALED)).all()
    assert [list(json.loads(d)) for (d,) in flagged] == [["V-3"]]  # recorded once, before the import's changes
    with engine.begin() as conn:  # a person looks, and accepts the state (on record)
        audit.seal_all(conn, "isso")
    assert verify(engine).ok


def test_an_imported_items_kept_cells_are_sealed(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)

    def digest() -> object:
        with engine.connect() as conn:
            return seals.digests(conn, items.c.poam_id == "V-3")

    before = digest()
    with engine.begin() as conn:  # a scanned item's defaults leave the digest as before schema 0009
        conn.execute(update(items).where(items.c.poam_id == "V-3").values(origin="scan", extra="{}"))
    assert verify(engine).ok
    with engine.begin() as conn:  # an imported item's kept cells edited behind poam's back
        conn.execute(update(items).where(items.c.poam_id == "V-3").values(asset_text="db01 10.0.0.9"))
    assert problems(verify(engine)) == ["item V-3 (system cso) changed without an audit event"]
    assert digest() != before
