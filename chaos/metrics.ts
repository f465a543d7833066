/**
 * The sum of every series of a metric on a /metrics page whose labels include `labels`
 * (0 when there is none yet); NaN when the page cannot be read.
 */
export async function metricSum(
  url: string,
  name: string,
  labels: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<number> {
  let text: string;
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch {
    return NaN;
  }
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}
