"""Merge the enriched card entries of ../content/<doc stem>.json into corpus/key_points.json.

    uv run --frozen python scripts/merge_content.py [--content-dir ../content]
        [--notes corpus/key_points.json] [--check]

Each content file is {"doc", "cards": [ENTRY, ...]} (schema: ../content/SCHEMA.md). An ENTRY replaces
the notes entry with the same (doc, position) — corrected key points and corrections included — and
adds its `misconceptions` and `facts` (read by the offline grader) and its other fields (follow-ups,
model answers), which the notes loader ignores. Entries of documents without a content file are kept
as they are; the order of the notes file is kept, new entries are appended in content order.
The result is validated with the app's own notes loader before it is written (atomically).
--check only reports what would change.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from interviewer.bank.notes import NotesFile  # noqa: E402


def merge(notes: dict, content_files: list[Path]) -> tuple[dict, dict]:
    cards = list(notes.get("cards", []))
    index = {(c["doc"], c["position"]): i for i, c in enumerate(cards)}
    stats = {"files": 0, "replaced": 0, "added": 0, "key_points_changed": 0, "misconceptions": 0, "facts": 0}
    for path in content_files:
        data = json.loads(path.read_text(encoding="utf-8"))
        stats["files"] += 1
        for entry in data.get("cards", []):
            entry = dict(entry)
            entry.setdefault("doc", data.get("doc"))
            key = (entry["doc"], entry["position"])
            stats["misconceptions"] += len(entry.get("misconceptions") or [])
            stats["facts"] += len(entry.get("facts") or [])
            if key in index:
                old = cards[index[key]]
                if old.get("key_points") != entry.get("key_points"):
                    stats["key_points_changed"] += 1
                cards[index[key]] = entry
                stats["replaced"] += 1
            else:
                index[key] = len(cards)
                cards.append(entry)
                stats["added"] += 1
    return notes | {"cards": cards}, stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--content-dir", type=Path, default=REPO.parent / "content")
    ap.add_argument("--notes", type=Path, default=REPO / "corpus" / "key_points.json")
    ap.add_argument("--check", action="store_true", help="report only, write nothing")
    args = ap.parse_args(argv)

    files = sorted(p for p in args.content_dir.glob("*.json") if not p.name.endswith(".tmp"))
    if not files:
        print(f"no content files in {args.content_dir}", file=sys.stderr)
        return 1
    notes = json.loads(args.notes.read_text(encoding="utf-8"))
    merged, stats = merge(notes, files)
    NotesFile.model_validate(merged)  # the app must be able to read what we write
    print(json.dumps(stats), file=sys.stderr)
    if args.check:
        return 0
    tmp = args.notes.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(merged, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, args.notes)
    print(f"wrote {args.notes}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
