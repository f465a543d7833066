/**
 * Task types come from clients, so using them raw as a label would let any client create
 * unbounded Prometheus series. The first `limit` distinct values keep their name; later ones
 * are counted as "other".
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly limit = 100) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return 'other';
    this.seen.add(value);
    return value;
  }
}
