/**
 * Small, dependency-free SVG charts for the report: grouped bars and lines over categories, with
 * optional min–max whiskers. Deterministic output, so a re-run with equal figures diffs clean.
 */

export interface Series {
  name: string;
  /** One value per category; undefined leaves a gap. */
  values: (number | undefined)[];
  /** Min–max per category, drawn as a whisker. */
  ranges?: ({ min: number; max: number } | undefined)[];
  /** Drawn dashed, without markers: a reference such as a theoretical limit. */
  dashed?: boolean;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  /** Line charts: where each category sits on a linear x axis from 0 (default: evenly spaced). */
  xValues?: number[];
  /** Line charts: a marker on every point (default); off for dense time series. */
  markers?: boolean;
  /** Line charts with `xValues`: a shaded span of the x axis behind the lines, named in the legend. */
  band?: { from: number; to: number; name: string };
  series: Series[];
}

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 80, right: 24, top: 72, bottom: 56 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const BAND_COLOR = '#f6e3c5';
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#76b7b2', '#b07aa1', '#9c755f'];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number) => (Math.round(n * 10) / 10).toString();
const label = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });

/** A round axis maximum above `max` and its tick step (1, 2, 2.5 or 5 × a power of ten). */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

/** Where a value sits on a linear x axis from 0 (charts with `xValues`). */
function linearX(xValues: number[]): (v: number) => number {
  const end = Math.max(...xValues) * 1.08;
  return (v) => MARGIN.left + (Math.min(Math.max(v, 0), end) / end) * PLOT_W;
}

/** The x coordinate of each category: the middle of its slot, or its place on a linear axis. */
function xPositions(chart: Chart): number[] {
  const { xValues } = chart;
  if (xValues) return xValues.map(linearX(xValues));
  const slot = PLOT_W / chart.categories.length;
  return chart.categories.map((_, i) => MARGIN.left + slot * (i + 0.5));
}

function frame(chart: Chart, body: string[], top: number, step: number): string {
  const y = (v: number) => MARGIN.top + PLOT_H - (v / top) * PLOT_H;
  const grid: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${num(y(v))}" y2="${num(y(v))}" stroke="#e0e0e0"/>`,
      `<text x="${MARGIN.left - 8}" y="${num(y(v) + 4)}" text-anchor="end">${esc(label(v))}</text>`,
    );
  }
  const xs = xPositions(chart);
  const xTicks = chart.categories.map(
    (c, i) =>
      `<text x="${num(xs[i]!)}" y="${MARGIN.top + PLOT_H + 18}" text-anchor="middle">${esc(c)}</text>`,
  );
  const band = chart.band && chart.xValues ? [chart.band.name] : [];
  const legend = chart.series.map((s, i) => {
    const x = MARGIN.left + (i + band.length) * 150;
    const color = COLORS[i % COLORS.length];
    const mark = s.dashed
      ? `<line x1="${x}" x2="${x + 14}" y1="46" y2="46" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>`
      : `<rect x="${x}" y="40" width="14" height="12" fill="${color}"/>`;
    return `${mark}<text x="${x + 20}" y="51">${esc(s.name)}</text>`;
  });
  for (const name of band) {
    legend.unshift(
      `<rect x="${MARGIN.left}" y="40" width="14" height="12" fill="${BAND_COLOR}"/>` +
        `<text x="${MARGIN.left + 20}" y="51">${esc(name)}</text>`,
    );
  }
  const shade: string[] = [];
  if (chart.band && chart.xValues) {
    const x = linearX(chart.xValues);
    const [from, to] = [x(chart.band.from), x(chart.band.to)];
    shade.push(
      `<rect x="${num(from)}" y="${MARGIN.top}" width="${num(Math.max(0, to - from))}" height="${PLOT_H}" fill="${BAND_COLOR}"/>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" fill="#333">`,
    `<title>${esc(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
    ...legend,
    ...shade,
    ...grid,
    ...body,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${MARGIN.top + PLOT_H}" y2="${MARGIN.top + PLOT_H}" stroke="#333"/>`,
    ...xTicks,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 12}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

function highest(chart: Chart): number {
  const values = chart.series.flatMap((s) => [
    ...s.values.filter((v): v is number => v !== undefined),
    ...(s.ranges ?? []).flatMap((r) => (r ? [r.max] : [])),
  ]);
  return Math.max(0, ...values);
}

function whisker(x: number, y: (v: number) => number, range: { min: number; max: number }): string {
  return (
    `<path d="M${num(x)} ${num(y(range.min))}V${num(y(range.max))}M${num(x - 4)} ${num(y(range.min))}h8` +
    `M${num(x - 4)} ${num(y(range.max))}h8" stroke="#222" fill="none"/>`
  );
}

/** Bars grouped by category, one colour per series. */
export function barChart(chart: Chart): string {
  const { top, step } = niceScale(highest(chart));
  const y = (v: number) => MARGIN.top + PLOT_H - (v / top) * PLOT_H;
  const groupW = PLOT_W / chart.categories.length;
  const barW = (groupW * 0.8) / Math.max(1, chart.series.length);
  const body: string[] = [];
  chart.series.forEach((s, si) => {
    chart.categories.forEach((_, ci) => {
      const v = s.values[ci];
      if (v === undefined) return;
      const x = MARGIN.left + groupW * ci + groupW * 0.1 + barW * si;
      body.push(
        `<rect x="${num(x)}" y="${num(y(v))}" width="${num(barW - 2)}" height="${num(y(0) - y(v))}" ` +
          `fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name}, ${chart.categories[ci]}: ${label(v)}`)}</title></rect>`,
      );
      const range = s.ranges?.[ci];
      if (range && range.max > range.min) body.push(whisker(x + (barW - 2) / 2, y, range));
    });
  });
  return frame(chart, body, top, step);
}

/** One line per series over the categories (evenly spaced, or at `xValues`). */
export function lineChart(chart: Chart): string {
  const { top, step } = niceScale(highest(chart));
  const y = (v: number) => MARGIN.top + PLOT_H - (v / top) * PLOT_H;
  const xs = xPositions(chart);
  const x = (i: number) => xs[i]!;
  const body: string[] = [];
  chart.series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length];
    const points = s.values.flatMap((v, i) => (v === undefined ? [] : [`${num(x(i))},${num(y(v))}`]));
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    body.push(
      `<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    if (s.dashed || chart.markers === false) return;
    s.values.forEach((v, i) => {
      if (v === undefined) return;
      const range = s.ranges?.[i];
      if (range && range.max > range.min) body.push(whisker(x(i), y, range));
      body.push(
        `<circle cx="${num(x(i))}" cy="${num(y(v))}" r="4" fill="${color}"><title>${esc(`${s.name}, ${chart.categories[i]}: ${label(v)}`)}</title></circle>`,
      );
    });
  });
  return frame(chart, body, top, step);
}
