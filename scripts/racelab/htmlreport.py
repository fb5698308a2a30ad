"""The report as an HTML page: the matrix, charts of the rates, the table, the cost.

DIR/report.html, with its charts in DIR/report-charts/: per lab, a data
file (lab-N.dat), the gnuplot script that draws it (lab-N.gp) and the
chart (lab-N.svg), so a chart can be redrawn or restyled by hand. The
charts are drawn by gnuplot (scripts/deps.sh installs gnuplot-nox); this
module writes data and plotting commands, never SVG itself.

The page opens with the matrix: one row per lab and configuration, one
column per build and tool, each cell coloured by its rate and showing k/n
and its verdict. Only cells with trials (or tool errors) are filled, and
only rows and columns that have one are drawn: an expectation nobody
measured in these records is not a cell of the page.

Below it, the detailed table is the Markdown table report.py prints,
turned into HTML (a column added to the terminal report appears on the
page too), without its "no data" rows. Colours: the verdict (ok, OUT,
tool errors, no expectation) and the build (broken, fixed) of each row.
"""

import html
import shutil
import subprocess
import time
from collections import OrderedDict
from pathlib import Path

from .cli import Failure
from .records import lab_key
from .scenario import lab_dir, shown
from .stats import fmt_interval
from .tools import BUILDS, TOOLS

CHARTS = "report-charts"
GNUPLOT_TIMEOUT_S = 60

VERDICT_CLASS = {"ok": "ok", "OUT": "out", "tool errors": "errors", "no data": "nodata",
                 "no expectation": "noexp"}

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.broken td.build { background: #f9d9d4; }
tr.fixed td.build { background: #d6e6f5; }
td.v-ok { background: #c8e6c9; }
td.v-out { background: #ef9a9a; font-weight: bold; }
td.v-errors { background: #ffcc80; }
td.v-nodata { background: #e0e0e0; color: #666; }
td.v-noexp { background: #f5f5f5; color: #666; }
.legend span { display: inline-block; padding: 0.1em 0.6em; margin-right: 0.4em;
               border: 1px solid #bbb; font-size: 0.85em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.charts figure { margin: 0; }
.charts img { width: 640px; border: 1px solid #ddd; }
p.note { font-size: 0.85em; max-width: 60em; color: #444; }
table.matrix td.cell { text-align: center; min-width: 4.5em; line-height: 1.15; }
table.matrix td.cell span.v { display: block; font-size: 0.8em; }
table.matrix td.v-out { outline: 3px solid #b71c1c; outline-offset: -3px; }
table.matrix td.v-errors { outline: 3px dashed #e65100; outline-offset: -3px; }
table.matrix td.v-noexp span.v { font-style: italic; }
table.matrix th.group { text-align: center; }
table.matrix th.broken { background: #f9d9d4; }
table.matrix th.fixed { background: #d6e6f5; }
"""


def parse_markdown_table(text):
    """'| a | b |' lines -> (header, rows); the separator line is skipped."""
    lines = [l for l in text.splitlines() if l.startswith("|")]
    split = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines]
    header = split[0] if split else []
    rows = [r for r in split[1:] if not all(set(c) <= set("-:") for c in r)]
    return header, rows


def table_html(header, rows, row_class=None, cell_class=None):
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cls = row_class(row) if row_class else ""
        tds = []
        for i, value in enumerate(row):
            c = cell_class(header[i], value) if cell_class else ""
            tds.append(f'<td class="{c}">{html.escape(value)}</td>' if c else
                       f"<td>{html.escape(value)}</td>")
        out.append(f'<tr class="{cls}">' + "".join(tds) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def table_html_from_markdown(table_markdown):
    """The detailed table: report.py's Markdown table as HTML, coloured by
    verdict and build."""
    header, rows = parse_markdown_table(table_markdown)
    build = header.index("build") if "build" in header else None

    def row_class(row):
        return row[build] if build is not None and row[build] in ("broken", "fixed") else ""

    def cell_class(name, value):
        if name == "verdict":
            return "v-" + VERDICT_CLASS.get(value, "noexp")
        if name == "build":
            return "build"
        if value[:1].isdigit() or value == "-":
            return "num"
        return ""
    return table_html(header, rows, row_class, cell_class)


# The matrix ----------------------------------------------------------------

def _order(values, first):
    """values sorted with the ones in `first` first, in that order."""
    first = list(first)
    return sorted(values, key=lambda v: (first.index(v) if v in first else len(first), v))


def lab_name(lab):
    """'cache' for lab 1 (its folder labs/lab-1-cache/), or '' for a lab
    this checkout does not have (records from elsewhere)."""
    try:
        return lab_dir(lab).name.split("-", 2)[2]
    except (Failure, IndexError):
        return ""


def matrix(cells):
    """The cells with trials or tool errors, laid out as the page's matrix.

    Returns (columns, rows): columns is [(build, [tool, ...]), ...], rows is
    [(lab, config, {(build, tool): cell}), ...]. A cell with neither trials
    nor tool errors (an expectation nobody measured here) is not in it, and
    a row or column left with no cell is not either."""
    measured = [c for c in cells if c.n or c.tool_errors]
    builds = _order({c.build for c in measured}, BUILDS)
    columns = [(b, _order({c.tool for c in measured if c.build == b}, TOOLS))
               for b in builds]
    grid = OrderedDict()
    for c in measured:
        grid.setdefault((c.lab, c.config), {})[(c.build, c.tool)] = c
    rows = [(lab, config, grid[(lab, config)])
            for lab, config in sorted(grid, key=lambda k: (lab_key(k[0]), k[1] != "spread", k[1]))]
    return columns, rows


def rate_colour(rate):
    """(background, text colour) for a rate from 0 (pale) to 1 (deep blue).
    One hue for every build: whether a rate is good is the verdict's to say
    (a broken build should show its race, a fixed one should not)."""
    light = 97 - 60 * rate
    return f"hsl(215, 65%, {light:.0f}%)", ("#fff" if light < 60 else "#222")


def _cell_html(c):
    if c.n:
        bg, fg = rate_colour(c.successes / c.n)
        style = f' style="background:{bg};color:{fg}"'
    else:
        style = ""
    band = c.expected["band"] if c.expected else None
    title = (f"lab {c.lab}, {c.build}, {c.tool}, {c.config}: {c.metric} "
             f"{c.successes}/{c.n}; 95% CI {fmt_interval(c.interval)}; "
             f"expected {fmt_interval(band)}")
    if c.tool_errors:
        title += f"; {c.tool_errors} tool error{'s' if c.tool_errors != 1 else ''}"
    klass = "cell v-" + VERDICT_CLASS.get(c.verdict, "noexp")
    return (f'<td class="{klass}"{style} title="{html.escape(title)}">'
            f"{c.successes}/{c.n}<span class=\"v\">{html.escape(c.verdict)}</span></td>")


def matrix_html(cells):
    columns, rows = matrix(cells)
    if not rows:
        return "<p>No cell has trials: no matrix.</p>"
    head1 = ['<th rowspan="2">lab</th>', '<th rowspan="2">config</th>']
    head2 = []
    for build, tools in columns:
        head1.append(f'<th class="group {html.escape(build)}" colspan="{len(tools)}">'
                     f"{html.escape(build)}</th>")
        head2 += [f'<th class="{html.escape(build)}">{html.escape(t)}</th>' for t in tools]
    out = ['<table class="matrix">', "<tr>" + "".join(head1) + "</tr>",
           "<tr>" + "".join(head2) + "</tr>"]
    names = {lab: lab_name(lab) for lab, _, _ in rows}
    for lab, config, row in rows:
        tds = [f"<th>{lab} {html.escape(names[lab])}</th>" if names[lab] else f"<th>{lab}</th>",
               f"<td>{html.escape(config)}</td>"]
        for build, tools in columns:
            for tool in tools:
                c = row.get((build, tool))
                tds.append(_cell_html(c) if c is not None else "<td></td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _legend():
    steps = []
    for rate in (0, 0.25, 0.5, 0.75, 1):
        bg, fg = rate_colour(rate)
        steps.append(f'<span style="background:{bg};color:{fg}">{rate:g}</span>')
    return ('<p class="legend">Rate: ' + "".join(steps) +
            " Verdict: written in the cell; OUT outlined in red, tool errors in dashed "
            "orange. Hover a cell for its metric, interval and expected band.</p>")


# The charts ----------------------------------------------------------------

def _label(tool, config, several_configs):
    return f"{tool} {config}" if several_configs else tool


def chart_data(cells):
    """Per lab: [(label, broken (rate, low, high) or None, fixed ...)]."""
    labs = OrderedDict()
    for c in cells:
        if not c.n:
            continue
        labs.setdefault(c.lab, OrderedDict()).setdefault((c.tool, c.config), {})[c.build] = c
    out = OrderedDict()
    for lab, groups in labs.items():
        several = len({config for _, config in groups}) > 1
        rows = []
        for (tool, config), builds in groups.items():
            def triple(build):
                c = builds.get(build)
                return (c.rate, *c.interval) if c is not None else None
            rows.append((_label(tool, config, several), triple("broken"), triple("fixed")))
        out[lab] = rows
    return out


def _dat(rows):
    lines = ["# label\tbroken rate\tlow\thigh\tfixed rate\tlow\thigh (95% Wilson)"]
    for label, broken, fixed in rows:
        fields = [f'"{label}"']
        for t in (broken, fixed):
            fields += [f"{x:.4f}" for x in t] if t else ["-", "-", "-"]
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def _gnuplot_script(lab, n_groups):
    width = max(480, 110 * n_groups + 200)
    return f"""# Lab {lab}: each tool's rate on the broken and the fixed build, with the
# 95% Wilson interval as error bars. Redraw: gnuplot lab-{lab}.gp
set terminal svg size {width},380 dynamic font "sans,12" background rgb "white"
set output "lab-{lab}.svg"
set datafile separator "\\t"
set datafile missing "-"
set title "Lab {lab}: rate per tool (95% Wilson intervals)"
set style data histogram
set style histogram errorbars gap 2 lw 1.5
set style fill solid 0.85 border rgb "#555555"
set yrange [0:1.05]
set ytics 0.2
set grid ytics lc rgb "#dddddd"
set ylabel "rate"
set xtics nomirror rotate by -20
set key below horizontal
plot "lab-{lab}.dat" using 2:3:4:xtic(1) title "broken: symptom / detection" lc rgb "#c0392b", \\
     "" using 5:6:7 title "fixed: violation / false positive" lc rgb "#2471a3"
"""


def draw_charts(chart_dir, data):
    """Writes lab-N.dat and lab-N.gp, runs gnuplot on each; returns
    {lab: svg file name}. Failure when gnuplot is missing or fails."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        raise Failure("gnuplot is not installed: the HTML report's charts need it "
                      "(scripts/deps.sh installs gnuplot-nox)")
    chart_dir.mkdir(parents=True, exist_ok=True)
    charts = {}
    for lab, rows in data.items():
        (chart_dir / f"lab-{lab}.dat").write_text(_dat(rows))
        (chart_dir / f"lab-{lab}.gp").write_text(_gnuplot_script(lab, len(rows)))
        try:
            r = subprocess.run([gnuplot, f"lab-{lab}.gp"], cwd=chart_dir, capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=GNUPLOT_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise Failure(f"gnuplot could not draw {shown(chart_dir / f'lab-{lab}.gp')}: "
                          f"{getattr(e, 'strerror', None) or e}") from None
        svg = chart_dir / f"lab-{lab}.svg"
        if r.returncode != 0 or not svg.is_file() or svg.stat().st_size == 0:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise Failure(f"gnuplot failed on {shown(chart_dir / f'lab-{lab}.gp')}: {last}")
        charts[lab] = f"{CHARTS}/lab-{lab}.svg"
    return charts


def page(*, matrix_block, table_markdown, n_no_data, summary, charts, cost_markdown, cost_footnote,
         source, n_records):
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>racelab report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>racelab report</h1>",
        f"<p>{n_records} trial records from <code>{html.escape(source)}</code>, "
        f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        f"<strong>{html.escape(summary)}</strong></p>",
        "<h2>The matrix</h2>",
        _legend(),
        matrix_block,
        '<p class="note">A cell is ok when its 99.99% Wilson interval meets the expected '
        "band, OUT when they cannot meet; the 95% interval is the one shown as the rate's "
        "error bar.</p>",
        "<h2>Rates per lab</h2>",
        '<div class="charts">',
    ]
    for lab, src in charts.items():
        parts.append(f'<figure><img src="{html.escape(src)}" alt="lab {lab}: rate per tool '
                     f'with 95% intervals"></figure>')
    parts.append("</div>")
    if not charts:
        parts.append("<p>No measured cells: no charts.</p>")
    parts += [
        "<h2>Every cell</h2>",
        '<p class="legend">Verdict: <span class="v-ok" style="background:#c8e6c9">ok</span>'
        '<span style="background:#ef9a9a">OUT</span>'
        '<span style="background:#ffcc80">tool errors</span>'
        '<span style="background:#f5f5f5">no expectation</span> '
        'Build: <span style="background:#f9d9d4">broken</span>'
        '<span style="background:#d6e6f5">fixed</span></p>',
        table_html_from_markdown(table_markdown),
    ]
    if n_no_data:
        parts.append(f'<p class="note">Left out: {n_no_data} cell{"s" if n_no_data != 1 else ""} '
                     "with an expectation but no trial in these records "
                     "(<code>scripts/report.py</code> lists them as \"no data\").</p>")
    parts.append("<h2>Cost per tool</h2>")
    if cost_markdown:
        header, rows = parse_markdown_table(cost_markdown)
        parts.append(table_html(header, rows, lambda row: row[1],
                                lambda name, value: "build" if name == "build" else
                                ("num" if value[:1].isdigit() or value == "-" else "")))
        parts.append(f'<p class="note">{html.escape(cost_footnote)}</p>')
    else:
        parts.append("<p>No detector cells with timed trials.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(outdir, *, cells, table_markdown, summary, cost_markdown, cost_footnote, source,
          n_records):
    """Writes outdir/report.html and its charts; returns the page's path."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise Failure(f"--html {shown(outdir)} is a file, not a directory")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        charts = draw_charts(outdir / CHARTS, chart_data(cells))
        target = outdir / "report.html"
        n_no_data = sum(1 for c in cells if not (c.n or c.tool_errors))
        target.write_text(page(matrix_block=matrix_html(cells),
                               table_markdown=table_markdown, n_no_data=n_no_data,
                               summary=summary, charts=charts,
                               cost_markdown=cost_markdown, cost_footnote=cost_footnote,
                               source=source, n_records=n_records), encoding="utf-8")
    except OSError as e:
        raise Failure(f"cannot write the HTML report in {shown(outdir)}: "
                      f"{e.strerror or e}") from None
    return target
