"""Issue 14, items 5 and 6: what an imported file may carry. Session ids that are paths, hold NUL,
newlines or terminal escapes, or are 190 characters long are not stored as they are (re-keyed),
and no id reaches a file name unsanitised; a deeply nested JSON file is one line of error and
exit code 1, not a RecursionError. A real store on disk and the real command line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from interviewer.config import Settings
from interviewer.export import dumps_json, import_json
from interviewer.service import ImportRefused, Services
from interviewer.store import TranscriptStore
from tests.test_export import cli, fill


def valid_session_id(value: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value) is not None


ODD_IDS = ["../../x", "a/b", "nul\x00id", "two\nlines", "\x1b[2J\x1b[31mred", "x" * 190, "..", "名字"]


@pytest.fixture()
def setup(tmp_path):
    settings = Settings.from_env({"MIANSHI_DATA_DIR": str(tmp_path / "data")})
    store = TranscriptStore(settings.db_path)
    services = Services(settings=settings, bank=None, engine=None, grader=None, store=store,
                        served_dir=tmp_path / "data" / "served")
    fill(store)
    return settings, store, services


def export_with_id(store, new_id: str) -> str:
    data = json.loads(dumps_json(store.get_session("sess-1")))
    data["session"]["id"] = new_id
    return json.dumps(data, ensure_ascii=False)


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_imported_ids_are_rekeyed_and_never_reach_a_path(setup, tmp_path, odd):
    settings, store, services = setup
    path = tmp_path / "upload.json"
    path.write_text(export_with_id(store, odd), encoding="utf-8")
    sid = services.import_file(path, owner="me")
    assert sid != odd and valid_session_id(sid)
    assert store.get_session(sid, owner="me").turns            # imported whole, under the new id
    md, js = services.write_exports(store.get_session(sid))
    for written in (md, js):
        assert services.export_dir.resolve() in Path(written).resolve().parents
    assert not list(services.export_dir.glob("*.part"))


def test_an_odd_id_already_stored_gets_a_safe_file_name_and_one_table_row(setup, tmp_path):
    settings, store, services = setup
    odd = "../../evil\n\x1b[2Jrow"
    fill(store, sid=odd)                                        # e.g. imported by an older version
    md, js = services.write_exports(store.get_session(odd))
    assert {p.name for p in services.export_dir.iterdir()} == {p.split("/")[-1] for p in (md, js)}
    assert not (tmp_path / "evil").exists() and "\n" not in md
    r = cli(settings.data_dir, "sessions")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and "\x1b" not in r.stdout         # header + two sessions, escapes shown as text


def test_a_kept_id_is_still_kept(setup):
    _, store, _ = setup
    assert import_json(store, export_with_id(store, "my-session_01")) == "my-session_01"


DEEP = "[" * 100_000 + "]" * 100_000   # about 200 KB


def test_deep_json_is_one_line_of_error_in_the_cli_and_the_service(setup, tmp_path):
    settings, store, services = setup
    path = tmp_path / "deep.json"
    path.write_text(DEEP, encoding="utf-8")
    r = cli(settings.data_dir, "import", str(path))
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "nested" in r.stderr and "Traceback" not in r.stderr
    with pytest.raises(ImportRefused, match="nested"):
        services.import_file(path, owner="me")
    # Deep inside a valid-looking export too (the snapshot may hold anything).
    data = json.loads(export_with_id(store, "deep-state"))
    data["session"]["state"] = {"x": json.loads("[" * 500 + "]" * 500)}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ImportRefused, match="nested"):
        services.import_file(path, owner="me")
