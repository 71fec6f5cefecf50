"""The batch's record: one entry per image (status, reason, time, size, outputs), written
as JSON beside the outputs, atomically, when the batch ends (also when it is interrupted).

    {"tool": "blender-p2m 0.1.0", "settings": {...},
     "counts": {"done": 8, "skipped": 1, "failed": 1, "total": 10},
     "seconds": 12.3, "images_per_second": 0.73,
     "images": [{"input": "in/cat.png", "name": "cat", "status": "done", "reason": null,
                 "seconds": 0.41, "vertices": 2466, "faces": 4928, "camera": "sidecar",
                 "outputs": ["cat.obj", "cat.glb"]}, ...]}

status: "done" (converted now), "skipped" (its outputs existed: a resumed run) or "failed"
(reason says why: the API's message for bad inputs, "internal error: Type: message" for bugs).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic_files import write_bytes

STATUSES = ("done", "skipped", "failed")


@dataclass
class ImageRecord:
    input: str
    name: str
    status: str
    reason: str | None = None
    seconds: float | None = None
    vertices: int | None = None
    faces: int | None = None
    camera: str | None = None
    outputs: list[str] = field(default_factory=list)


def summary_filename(shard: tuple[int, int]) -> str:
    """summary.json, or summary-shard-2-of-4.json: shards sharing a folder keep their own."""
    index, count = shard
    return "summary.json" if count == 1 else f"summary-shard-{index}-of-{count}.json"


def previous_records(path: Path) -> dict[str, dict]:
    """Entries of an earlier summary by output name (to keep vertex counts of skipped images)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {entry["name"]: entry for entry in data.get("images", []) if "name" in entry}
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return {}


def counts(records: list[ImageRecord], total: int) -> dict:
    result = {status: sum(r.status == status for r in records) for status in STATUSES}
    result["total"] = total
    result["not_started"] = total - len(records)
    return result


def write_summary(path: Path, records: list[ImageRecord], total: int, settings: dict,
                  seconds: float, tool: str) -> dict:
    converted = sum(r.status in ("done", "failed") for r in records)
    summary = {"tool": tool, "settings": settings, "counts": counts(records, total),
               "seconds": round(seconds, 3),
               "images_per_second": round(converted / seconds, 3) if seconds > 0 else None,
               "images": [asdict(r) for r in records]}
    write_bytes(Path(path), (json.dumps(summary, indent=1) + "\n").encode("utf-8"))
    return summary
