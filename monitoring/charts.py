"""Small server-rendered SVG charts (no JavaScript, no CDN)."""

from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def bar_chart(
    buckets: list[tuple[datetime, int]],
    *,
    width: int = 600,
    height: int = 80,
    label_format: str = "%H:%M",
) -> SafeString:
    """Bars for (start, count) pairs, each with a tooltip; the tallest bar fills the height."""
    if not buckets:
        return SafeString("")
    peak = max(count for _, count in buckets) or 1
    slot = width / len(buckets)
    bar_width = max(slot - 2, 1)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"><title>{}: {}</title></rect>',
        (
            (
                f"{i * slot:.1f}",
                f"{height - (count / peak) * (height - 12):.1f}",
                f"{bar_width:.1f}",
                f"{(count / peak) * (height - 12):.1f}",
                start.strftime(label_format),
                count,
            )
            for i, (start, count) in enumerate(buckets)
        ),
    )
    first, last = buckets[0][0].strftime(label_format), buckets[-1][0].strftime(label_format)
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h_axis}" width="{w}" height="{h_axis}" role="img" '
        'aria-label="occurrences over time, peak {peak}">'
        '<style>.bar{{fill:#3b5bdb}} text{{font:10px sans-serif;fill:#6b7385}}</style>{bars}'
        '<text x="0" y="{ty}">{first}</text><text x="{w}" y="{ty}" text-anchor="end">{last}</text>'
        '<text x="0" y="10">peak {peak}</text></svg>',
        w=width, h_axis=height + 14, bars=bars, ty=height + 12, first=first, last=last, peak=peak,
    )  # fmt: skip
