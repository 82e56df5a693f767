"""Server-rendered SVG charts of healing over time (no JavaScript, no CDN)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .queries import DayPoint

WIDTH = 600
HEIGHT = 100
TOP = 12  # room for the peak label
DAY_FORMAT = "%b %d"


def _frame(body: SafeString, label: str, points: list[DayPoint], corner: str) -> SafeString:
    first, last = points[0].day.strftime(DAY_FORMAT), points[-1].day.strftime(DAY_FORMAT)
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="{label}">'
        '<line x1="0" y1="{base}" x2="{w}" y2="{base}" class="axis"/>{body}'
        '<text x="0" y="{ty}">{first}</text>'
        '<text x="{w}" y="{ty}" text-anchor="end">{last}</text>'
        '<text x="0" y="10">{corner}</text></svg>',
        w=WIDTH, h=HEIGHT + 14, base=HEIGHT, label=label, body=body, ty=HEIGHT + 12,
        first=first, last=last, corner=corner,
    )  # fmt: skip


def heals_chart(points: list[DayPoint]) -> SafeString:
    """Bars: proposals healed per day; a faint bar behind each shows the runs that day."""
    if not points:
        return SafeString("")
    peak = max(p.runs for p in points)
    slot = WIDTH / len(points)
    scale = (HEIGHT - TOP) / max(peak, 1)
    bars = format_html_join(
        "",
        '<g><rect x="{x}" y="{ry}" width="{bw}" height="{rh}" class="runs"/>'
        '<rect x="{x}" y="{hy}" width="{bw}" height="{hh}" class="healed"/>'
        "<title>{day}: {healed} healed of {runs} finished runs</title></g>",
        (
            {
                "x": f"{i * slot:.1f}",
                "bw": f"{max(slot - 2, 1):.1f}",
                "ry": f"{HEIGHT - p.runs * scale:.1f}",
                "rh": f"{p.runs * scale:.1f}",
                "hy": f"{HEIGHT - p.healed * scale:.1f}",
                "hh": f"{p.healed * scale:.1f}",
                "day": p.day.strftime(DAY_FORMAT),
                "healed": p.healed,
                "runs": p.runs,
            }  # fmt: skip
            for i, p in enumerate(points)
        ),
    )
    total = sum(p.healed for p in points)
    return _frame(bars, f"proposals healed per day, {total} in all", points, f"peak {peak}/day")


def success_rate_chart(points: list[DayPoint]) -> SafeString:
    """A line of the daily success rate (0-100%); days with no finished run leave a gap."""
    if not points:
        return SafeString("")
    slot = WIDTH / len(points)
    segments: list[list[tuple[float, float, DayPoint]]] = [[]]
    for i, p in enumerate(points):
        if p.success_rate is None:
            if segments[-1]:
                segments.append([])
            continue
        x = i * slot + slot / 2
        y = HEIGHT - p.success_rate * (HEIGHT - TOP)
        segments[-1].append((x, y, p))
    lines = format_html_join(
        "",
        '<polyline points="{}" class="rate"/>',
        ((" ".join(f"{x:.1f},{y:.1f}" for x, y, _ in seg),) for seg in segments if len(seg) > 1),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="rate-dot"><title>{}: {} ({} of {})</title></circle>',
        (
            (
                f"{x:.1f}",
                f"{y:.1f}",
                p.day.strftime(DAY_FORMAT),
                f"{p.success_rate:.0%}",
                p.healed,
                p.runs,
            )
            for seg in segments
            for x, y, p in seg
        ),
    )
    guide = format_html(
        '<line x1="0" y1="{y}" x2="{w}" y2="{y}" class="guide"><title>70%</title></line>',
        y=f"{HEIGHT - 0.7 * (HEIGHT - TOP):.1f}", w=WIDTH,
    )  # fmt: skip
    body = format_html("{}{}{}", guide, lines, dots)
    return _frame(body, "daily healing success rate", points, "100%")
