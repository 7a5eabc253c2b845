"""The weekly trend drawn on the server as SVG: a bar per week for the incidents opened, and the week's
median time to acknowledge as a line with its own scale. Readable printed and without JavaScript."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from incidents.milestones import format_duration
from reports.selectors import Week

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 64, 16, 40


def _nice_ceiling(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000):
        if value <= step:
            return float(step)
    return float(value)


def trend_svg(weeks: Sequence[Week]) -> SafeString:
    """The chart, with a text alternative: every number drawn is also written as a label."""
    if not weeks:
        return mark_safe('<p class="muted">No incidents in this period.</p>')
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(weeks)
    most = _nice_ceiling(max(w.incidents for w in weeks))
    medians = [w.median_acknowledge for w in weeks if w.median_acknowledge is not None]
    slowest = _nice_ceiling(max(medians) / 60) * 60 if medians else 60.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-labelledby="trend-title" class="trend">',
        '<title id="trend-title">Incidents opened each week (bars) and median time to acknowledge (line)'
        "</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#555"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="11">{most:.0f}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{LEFT + plot_w + 6}" y="{TOP + 10}" font-size="11" fill="#b3261e">'
        f"{escape(format_duration(timedelta(seconds=slowest)))}</text>",
    ]
    points = []
    for index, week in enumerate(weeks):
        x = LEFT + index * slot
        bar_h = plot_h * week.incidents / most
        label = f"Week of {week.start:%Y-%m-%d}: {week.incidents} incidents"
        if week.median_acknowledge is not None:
            label += f", median time to acknowledge {week.median_text}"
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - bar_h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar_h:.1f}" fill="#4a6fa5"><title>{escape(label)}</title></rect>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{TOP + plot_h - bar_h - 3:.1f}" text-anchor="middle" '
            f'font-size="11">{week.incidents}</text>'
        )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10">'
            f"{week.start:%d %b}</text>"
        )
        if week.median_acknowledge is not None:
            y = TOP + plot_h - plot_h * min(week.median_acknowledge, slowest) / slowest
            points.append(f"{x + slot / 2:.1f},{y:.1f}")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#b3261e" stroke-width="2"/>')
        parts += [
            f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="#b3261e"/>' for p in points
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped above
