/**
 * Task types come from clients, so using them raw as a label would let any client create
 * unbounded Prometheus series. With `known` values (the types a worker has handlers for), only
 * those keep their name; otherwise the first `limit` distinct values do. The rest count as "other",
 * so junk types cannot take the places of real ones.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    private readonly limit = 100,
    private readonly known?: ReadonlySet<string>,
  ) {}

  of(value: string): string {
    if (this.known) return this.known.has(value) ? value : 'other';
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return 'other';
    this.seen.add(value);
    return value;
  }
}
