"""Evaluation metrics for event types: pure functions over labels, no spaCy, no model.

``read_gold`` reads labelled sentences (``{"id","text","event_type",...}`` a
line); ``score`` compares gold and predicted labels and returns per-type
precision/recall/F1/support, macro-F1, the confusion matrix (rows gold,
columns predicted) and every error, so a reader can see what went wrong.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coder.errors import InputError
from coder.records import EVENT_TYPES


@dataclass(frozen=True)
class GoldItem:
    """One gold sentence; ``extra`` keeps the other fields (why, source, ...)."""

    id: str
    text: str
    event_type: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class TypeScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvalError:
    id: str
    text: str
    gold: str
    predicted: str


@dataclass(frozen=True)
class EvaluationReport:
    labels: tuple[str, ...]
    per_type: dict[str, TypeScore]
    macro_f1: float
    accuracy: float
    n: int
    confusion: tuple[tuple[int, ...], ...]  # rows gold, columns predicted, in ``labels`` order
    errors: tuple[EvalError, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_type": {
                label: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                }
                for label, s in self.per_type.items()
            },
            "confusion": {
                "rows": "gold",
                "columns": "predicted",
                "matrix": [list(r) for r in self.confusion],
            },
            "errors": [e.__dict__ for e in self.errors],
        }

    def to_text(self, max_errors: int = 50) -> str:
        """A readable table: per-type scores, confusion matrix, then the first errors."""
        lines = [f"{'type':<15}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
        for label, s in self.per_type.items():
            lines.append(f"{label:<15}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>9d}")
        lines.append(f"{'macro-F1':<15}{self.macro_f1:>30.3f}{self.n:>9d}")
        lines.append(f"{'accuracy':<15}{self.accuracy:>30.3f}")
        lines += [
            "",
            "confusion (rows gold, columns predicted)",
            _confusion_text(self.labels, self.confusion),
        ]
        if self.errors:
            lines += ["", f"errors ({len(self.errors)}, first {min(max_errors, len(self.errors))})"]
            lines += [
                f"  {e.id}: gold={e.gold} predicted={e.predicted} | {e.text}"
                for e in self.errors[:max_errors]
            ]
        return "\n".join(lines)


def _confusion_text(labels: tuple[str, ...], matrix: tuple[tuple[int, ...], ...]) -> str:
    short = [label[:9] for label in labels]
    rows = [" " * 15 + "".join(f"{s:>10}" for s in short)]
    rows += [
        f"{label:<15}" + "".join(f"{v:>10d}" for v in row) for label, row in zip(labels, matrix, strict=True)
    ]
    return "\n".join(rows)


def read_gold(path: Path) -> list[GoldItem]:
    """Gold sentences from JSONL; a malformed line raises ``InputError`` naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read gold file: {exc}", path=str(path)) from exc
    items = [_gold_item(line, path, n) for n, line in enumerate(lines, start=1) if line.strip()]
    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        if item.id in seen:
            raise InputError(f"duplicate id {item.id!r}", path=str(path), line=n)
        seen.add(item.id)
    return items


def _gold_item(line: str, path: Path, line_no: int) -> GoldItem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path=str(path), line=line_no) from exc
    if not isinstance(record, dict):
        raise InputError("expected a JSON object", path=str(path), line=line_no)
    missing = [k for k in ("id", "text", "event_type") if not isinstance(record.get(k), str) or not record[k]]
    if missing:
        raise InputError(f"missing or empty field(s): {', '.join(missing)}", path=str(path), line=line_no)
    if record["event_type"] not in EVENT_TYPES:
        raise InputError(
            f"unknown event_type {record['event_type']!r}; expected one of {', '.join(EVENT_TYPES)}",
            path=str(path),
            line=line_no,
        )
    extra = {k: v for k, v in record.items() if k not in ("id", "text", "event_type")}
    return GoldItem(record["id"], record["text"], record["event_type"], extra)


def score(
    gold_labels: Sequence[str],
    predicted_labels: Sequence[str],
    ids: Sequence[str] | None = None,
    texts: Sequence[str] | None = None,
    labels: tuple[str, ...] = EVENT_TYPES,
) -> EvaluationReport:
    """Compare gold and predicted labels (same order).

    Undefined precision or recall counts as 0 (scikit-learn's ``zero_division=0``);
    macro-F1 averages over the types present in gold or predictions.
    """
    n = len(gold_labels)
    if (
        len(predicted_labels) != n
        or (ids is not None and len(ids) != n)
        or (texts is not None and len(texts) != n)
    ):
        raise ValueError("gold, predicted, ids and texts must have the same length")
    unknown = sorted((set(gold_labels) | set(predicted_labels)) - set(labels))
    if unknown:
        raise ValueError(f"labels outside {labels}: {unknown}")
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold_labels, predicted_labels, strict=True):
        matrix[index[g]][index[p]] += 1
    per_type = {label: _type_score(matrix, index[label]) for label in labels}
    correct = sum(matrix[i][i] for i in range(len(labels)))
    return EvaluationReport(
        labels=labels,
        per_type=per_type,
        macro_f1=_macro_f1(matrix, per_type, labels),
        accuracy=correct / n if n else 0.0,
        n=n,
        confusion=tuple(tuple(row) for row in matrix),
        errors=_errors(gold_labels, predicted_labels, ids, texts),
    )


def _macro_f1(matrix: list[list[int]], per_type: dict[str, TypeScore], labels: tuple[str, ...]) -> float:
    # Like scikit-learn: average over the types seen in gold or predictions, so a subset
    # without any airstrike is not scored as if the model had failed on airstrikes.
    seen = [label for i, label in enumerate(labels) if sum(matrix[i]) or sum(row[i] for row in matrix)]
    return sum(per_type[label].f1 for label in seen) / len(seen) if seen else 0.0


def _type_score(matrix: list[list[int]], i: int) -> TypeScore:
    tp = matrix[i][i]
    support = sum(matrix[i])
    predicted = sum(row[i] for row in matrix)
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TypeScore(precision, recall, f1, support)


def _errors(
    gold: Sequence[str], predicted: Sequence[str], ids: Sequence[str] | None, texts: Sequence[str] | None
) -> tuple[EvalError, ...]:
    return tuple(
        EvalError(ids[i] if ids is not None else str(i), texts[i] if texts is not None else "", g, p)
        for i, (g, p) in enumerate(zip(gold, predicted, strict=True))
        if g != p
    )
