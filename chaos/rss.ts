import { readFile } from 'node:fs/promises';
import type { ServiceProcess } from './service';

export interface RssSample {
  /** Epoch ms. */
  at: number;
  /** The process' name in the deployment (`api-1`, `worker-3`, ...). */
  name: string;
  service: 'api' | 'worker';
  mib: number;
}

/** Resident set size of a process from /proc, in MiB; undefined once it is gone. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of every live process `processes()` returns, every `intervalMs`. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly processes: () => ServiceProcess[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  stop(): RssSample[] {
    clearInterval(this.timer);
    return this.samples;
  }

  private async sample(): Promise<void> {
    const at = Date.now();
    for (const p of this.processes()) {
      if (!p.alive) continue;
      const mib = await rssMiB(p.pid);
      if (mib !== undefined) this.samples.push({ at, name: p.name, service: p.service, mib });
    }
  }
}
