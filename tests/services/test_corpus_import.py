"""Each real Nessus file of the corpus imports; items equal an independent count of plugin ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir
from tests.parsers.test_nessus import _independent_count


@pytest.mark.corpus
def test_corpus_nessus_files_import_with_the_right_items_and_assets(engine: Engine) -> None:
    files = sorted(corpus_dir("nessus_xml").iterdir())
    for n, path in enumerate(files):
        name = f"s{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        expected, hosts = _independent_count(path)
        with engine.begin() as conn:
            items = load(conn, systems.resolve(conn, name, "t").id, "all")
        assert len(items) == len(expected), path.name
        assert {i.source_identifier: {a.text for a in i.assets} for i in items} == expected, path.name
        assert result.assets_covered == len(hosts)
        assert all(i.scheduled_completion_date > i.detection_date for i in items)


@pytest.mark.corpus
def test_corpus_files_in_one_system_share_hosts(engine: Engine) -> None:
    folder = corpus_dir("nessus_xml")
    a = folder / "defectdojo__tenable__issue_6992.nessus"
    b = folder / "defectdojo__tenable__nessus_with_cvssv3.nessus"
    import_file(engine, a)
    r = import_file(engine, b)
    # the same host and scan time: the shared plugin is one finding, nothing is fixed
    assert r.fixed_findings == 0
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "open")
    ids = [i.source_identifier for i in items]
    assert len(ids) == len(set(ids))
    assert all(Path(p.text.split(" ")[0]).name == "testphp.vulnweb.com" for i in items for p in i.assets)
