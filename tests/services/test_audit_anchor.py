"""The audit log's anchor outside the database (`audit head`, `verify --head`) and an item's history,
probed by tampering with the database directly, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, delete, select, update

from poam.services import audit, evaluation, planning, systems
from poam.services.importer import import_file
from poam.store.tables import audit_events, settings
from tests.builders import Host, Item, write_nessus


def setup(engine: Engine, tmp_path: Path) -> str:
    systems.add_system(engine, "cso", "t", policy="fedramp-cr26")
    scan = write_nessus(tmp_path / "a.nessus", [Host("web", ip="10.0.0.5", items=[Item("100", cvss3=9.8)])])
    import_file(engine, scan, system="cso", actor="t")
    evaluation.evaluate(engine, "cso", "V-1", "alice", irv=True, pain=3, rationale="r", at="2026-01-06T00:00:00Z")
    with engine.connect() as conn:
        head, count = audit.head(conn)
    assert count >= 3 and len(head) == 64
    return head


def check(engine: Engine, anchor: str | None) -> audit.Verification:
    with engine.connect() as conn:
        return audit.verify(conn, anchor)


def test_an_intact_log_holds_its_anchor(engine: Engine, tmp_path: Path) -> None:
    anchor = setup(engine, tmp_path)
    planning.set_fields(engine, "cso", "V-1", "bob", hours=3)  # later events do not matter
    res = check(engine, anchor)
    assert res.ok and res.anchor_found is True and res.items_checked == 1
    with engine.connect() as conn:
        assert res == (audit.head(conn)[1], None)  # the old tuple form still compares
    res = check(engine, "0" * 64)
    assert not res.ok and res.anchor_found is False and res.broken == audit.ANCHOR_MISSING
    assert res.broken_event is None and res.item_problems == []


def test_emptying_the_log_and_its_head_is_caught_by_the_anchor(engine: Engine, tmp_path: Path) -> None:
    anchor = setup(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(delete(audit_events))
        conn.execute(delete(settings).where(settings.c.key == audit._HEAD))
    res = check(engine, None)
    assert res.chain_intact and res.events == 0  # without an anchor an empty chain looks intact...
    assert [str(p) for p in res.item_problems] == ["item V-1 (system cso) has no audit event"]  # ...not its items
    res = check(engine, anchor)
    assert res.anchor_found is False and res.broken == audit.ANCHOR_MISSING


def test_dropping_the_newest_events_and_fixing_the_head_is_caught(engine: Engine, tmp_path: Path) -> None:
    anchor = setup(engine, tmp_path)
    with engine.begin() as conn:
        last = conn.execute(select(audit_events).order_by(audit_events.c.id.desc())).first()
        assert last is not None
        conn.execute(delete(audit_events).where(audit_events.c.id == last.id))
        conn.execute(update(settings).where(settings.c.key == audit._HEAD).values(value=last.prev_hash))
    assert check(engine, None).chain_intact
    res = check(engine, anchor)
    assert res.broken == audit.ANCHOR_MISSING and not res.ok


def test_a_recomputed_chain_is_caught(engine: Engine, tmp_path: Path) -> None:
    anchor = setup(engine, tmp_path)
    with engine.begin() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.id)).all()
        prev = audit.GENESIS
        for r in rows:
            actor = "mallory" if r.action == "item.evaluate" else r.actor  # who evaluated, rewritten
            digest = audit._digest(prev, r.at, actor, r.system_id, r.action, r.entity, r.entity_id, r.detail)
            conn.execute(
                update(audit_events).where(audit_events.c.id == r.id).values(actor=actor, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(update(settings).where(settings.c.key == audit._HEAD).values(value=prev))
    assert check(engine, None).ok  # a consistent forgery
    assert check(engine, anchor).broken == audit.ANCHOR_MISSING


def test_item_history_tells_the_story(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    planning.set_fields(engine, "cso", "V-1", "bob", hours=3)
    with engine.connect() as conn:
        history = audit.item_history(conn, 1, "V-1")
    actions = [(e["action"], e["actor"]) for e in history]
    assert actions[0] == ("scan.import", "t") and history[0]["detail"]["opened"] is True
    assert ("item.evaluate", "alice") in actions and actions[-1] == ("item.set", "bob")
    assert all(e["at"].endswith("Z") for e in history)
