/** One compared system's process, started by bench/serve.ts in a child process. */
export interface Started {
  /** HTTP port (the API's; a worker's is 0 when it serves nothing). */
  port: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  queue: string;
  /** Partitions of the tasks topic (Kafka designs). */
  partitions: number;
  /** Tasks a worker runs at once. */
  concurrency: number;
}

export type Role = 'api' | 'worker';
export type Starter = (options: StartOptions) => Promise<Started>;
