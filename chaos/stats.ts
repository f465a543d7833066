/** The q-quantile (0..1) of `values` by nearest rank; undefined for none. */
export function quantile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function max(values: number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => Math.max(a, b));
}

/** `1234` → `1234 ms`; undefined → `n/a`. */
export function ms(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? 'n/a' : `${Math.round(value)} ms`;
}

export function seconds(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? 'n/a' : `${value.toFixed(1)} s`;
}
