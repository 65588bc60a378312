"""The two tables the exporter prints: the summary after a run, and --list (the selected models and
the state of their folders)."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import ModelEntry
from .console import MB
from .pipeline import ExportRow
from .publish import manifest_up_to_date, read_manifest
from .sources import handler_for


def print_table(rows: list[ExportRow]) -> None:
    head = ["id", "status", "weights", "size MB", "seconds"]
    body = []
    for r in rows:
        body.append([r.id, r.status, r.weights or "-",
                     "-" if r.size_mb is None else f"{r.size_mb:.1f}",
                     "-" if r.seconds is None else f"{r.seconds:.1f}"])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print()
    print(line)
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))))
    reasons = [r for r in rows if r.reason and r.status in ("skipped", "failed")]
    if reasons:
        print()
        for r in reasons:
            print(f"{r.id}: {r.status}: {r.reason}")
    sys.stdout.flush()


def list_models(models: list[ModelEntry], models_dir: Path) -> None:
    rows = []
    for m in models:
        folder = models_dir / m.id
        kind = m.source.kind
        if not handler_for(kind, m.id).exports:
            state = "n/a"
        elif manifest_up_to_date(folder, m):
            state = "exported"
        elif (folder / "manifest.json").is_file():
            state = "stale"
        else:
            state = "missing"
        size = "-"
        w = "-"
        try:
            doc = read_manifest(folder)
            size = f"{doc.get('size_bytes', 0) / MB:.1f}"
            w = doc.get("weights", "-")
        except (OSError, ValueError):
            pass
        rows.append([m.id, m.suite, m.type, kind, m.weights, state, w, size])
    head = ["id", "suite", "type", "source", "weights (yaml)", "state", "weights (got)", "size MB"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
