/** The only place Redis key names are built; every key of a queue shares one prefix. */
export class RedisKeys {
  readonly prefix: string;

  constructor(queue: string) {
    this.prefix = `spillway:${queue}:`;
  }

  /** Hash holding one task record. */
  task(id: string): string {
    return `${this.prefix}task:${id}`;
  }
}
