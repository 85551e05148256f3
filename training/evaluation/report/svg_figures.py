"""Small inline SVG figures for report.html: a reliability diagram and an interval (forest)
plot. Drawn as text, so the report embeds them and fetches nothing."""

from __future__ import annotations

from html import escape

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def reliability_svg(curves: dict[str, dict], size: int = 220) -> str:
    """Predicted probability (x) against observed rate (y) per named curve
    ({'predicted': [...], 'observed': [...]}), with the diagonal of perfect calibration."""
    pad = 28
    inner = size - 2 * pad

    def point(x: float, y: float) -> str:
        return f"{pad + x * inner:.1f},{size - pad - y * inner:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
             f'viewBox="0 0 {size} {size}" role="img">',
             f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="#fafafa" '
             'stroke="#999"/>',
             f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#bbb" '
             'stroke-dasharray="4 3"/>',
             f'<text x="{size / 2}" y="{size - 6}" font-size="10" text-anchor="middle">'
             'predicted probability</text>',
             f'<text x="10" y="{size / 2}" font-size="10" text-anchor="middle" '
             f'transform="rotate(-90 10 {size / 2})">observed rate</text>']
    for number, (name, curve) in enumerate(curves.items()):
        color = _COLORS[number % len(_COLORS)]
        points = " ".join(point(x, y) for x, y in zip(curve["predicted"], curve["observed"],
                                                     strict=True))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                     'stroke-width="2"/>')
        parts += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" '
                  f'fill="{color}"/>' for p in points.split()]
        parts.append(f'<text x="{pad + 4}" y="{pad + 12 + 12 * number}" font-size="10" '
                     f'fill="{color}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def interval_svg(rows: list[tuple[str, float, float | None, float | None]],
                 width: int = 420) -> str:
    """One row per (label, estimate, low, high) on a 0..1 axis: a dot and its interval."""
    left, right, step = 150, 20, 18
    height = step * len(rows) + 30
    span = width - left - right

    def x(value: float) -> float:
        return left + max(0.0, min(1.0, value)) * span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{x(tick):.1f}" y1="4" x2="{x(tick):.1f}" y2="{height - 18}" '
                     'stroke="#ddd"/><text x="{:.1f}" y="{}" font-size="9" '
                     'text-anchor="middle">{:g}</text>'.format(x(tick), height - 6, tick))
    for number, (label, estimate, low, high) in enumerate(rows):
        y = 14 + number * step
        parts.append(f'<text x="{left - 6}" y="{y + 4}" font-size="10" '
                     f'text-anchor="end">{escape(label[:28])}</text>')
        if low is not None and high is not None:
            parts.append(f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" '
                         'stroke="#1f77b4" stroke-width="2"/>')
        parts.append(f'<circle cx="{x(estimate):.1f}" cy="{y}" r="3.5" fill="#1f77b4"/>')
    parts.append("</svg>")
    return "".join(parts)
