import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/**
 * Time series drawn by uPlot on a canvas. The chart keeps its own uPlot instance across renders
 * (new data is a setData, not a new chart) and follows its container's width. The canvas says
 * nothing to a screen reader, so the wrapper is an image whose name reads the latest values, and
 * the legend below is plain text.
 */

export interface ChartSeries {
  label: string;
  /** A colour with at least 3:1 contrast on white (WCAG's figure for graphics). */
  color: string;
}

/** One column per point: [times in epoch seconds, then one array per series]. */
export type ChartData = [number[], ...(number | null)[][]];

export function TimeChart(props: {
  label: string;
  series: ChartSeries[];
  data: ChartData;
  windowSeconds: number;
  height?: number;
  format?: (n: number) => string;
  /** The series are whole numbers (counts): no tick at 0.5. */
  integers?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const { series, windowSeconds, height = 200 } = props;
  const format = props.format ?? ((n: number) => String(Math.round(n * 10) / 10));

  useEffect(() => {
    const el = host.current;
    if (!el) return undefined;
    const u = new uPlot(
      {
        width: Math.max(el.clientWidth, 200),
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          // A sliding window ending at the newest point, so the chart scrolls as time passes.
          x: { time: true, range: (_u, _min, max) => [max - windowSeconds, max] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        axes: [
          {
            stroke: '#4b5563',
            grid: { stroke: '#e5e7eb', width: 1 },
            ticks: { stroke: '#d1d5db' },
            space: 90,
            // One line per tick (uPlot's default adds a date line that crowds a small chart).
            values: (_u, ticks) => ticks.map((t) => clock(t)),
          },
          {
            stroke: '#4b5563',
            grid: { stroke: '#e5e7eb', width: 1 },
            ticks: { stroke: '#d1d5db' },
            size: 56,
            // Counts (lag, replicas) tick at whole numbers only; rates keep uPlot's own steps.
            ...(props.integers && {
              incrs: INTEGER_STEPS,
              values: (_u: uPlot, ticks: number[]) => ticks.map(format),
            }),
          },
        ],
        series: [
          {},
          ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } })),
        ],
      },
      props.data as uPlot.AlignedData,
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The chart is built once per shape; data changes go through setData below.
  }, [series.map((s) => s.label).join(), windowSeconds, height]);

  useEffect(() => {
    plot.current?.setData(props.data as uPlot.AlignedData);
  }, [props.data]);

  const latest = series.map((s, i) => {
    const column = props.data[i + 1] ?? [];
    const value = column[column.length - 1];
    return { ...s, value: value === null || value === undefined ? '—' : format(value) };
  });
  const summary = `${props.label}. Latest: ${latest.map((s) => `${s.label} ${s.value}`).join(', ')}.`;
  return (
    <figure class="chart">
      <div role="img" aria-label={summary} class="chart-canvas" ref={host} />
      <figcaption class="legend">
        {latest.map((s) => (
          <span class="legend-item" key={s.label}>
            <span class="swatch" style={{ backgroundColor: s.color }} aria-hidden="true" />
            {s.label} <strong>{s.value}</strong>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

const INTEGER_STEPS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((e) => [1, 2, 5].map((m) => m * 10 ** e));

/** 13:40:05, in the browser's time zone. */
function clock(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toLocaleTimeString('en-GB', { hour12: false });
}

/**
 * A fixed-length window of samples for a chart: appends one point per reading and drops the
 * ones older than the window, so memory stays bounded however long the page stays open.
 */
export class SeriesWindow {
  private times: number[] = [];
  private columns: (number | null)[][];

  constructor(
    seriesCount: number,
    private readonly windowSeconds: number,
  ) {
    this.columns = Array.from({ length: seriesCount }, () => []);
  }

  push(atMs: number, values: (number | null)[]): ChartData {
    const t = atMs / 1000;
    // Readings can arrive out of order after a reconnect: uPlot needs ascending times.
    if (this.times.length > 0 && t <= this.times[this.times.length - 1]!) return this.data();
    this.times.push(t);
    this.columns.forEach((column, i) => column.push(values[i] ?? null));
    const oldest = t - this.windowSeconds;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! < oldest) drop++;
    if (drop > 0) {
      this.times = this.times.slice(drop);
      this.columns = this.columns.map((column) => column.slice(drop));
    }
    return this.data();
  }

  data(): ChartData {
    return [this.times.slice(), ...this.columns.map((c) => c.slice())];
  }
}
