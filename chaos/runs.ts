import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One event tests/fixtures/chaos-handlers.js logged. */
export interface RunEvent {
  event: 'start' | 'done' | 'fail' | 'hang';
  taskId: string;
  attempt: number;
  /** Epoch ms. */
  at: number;
  /** The worker process that ran the handler. */
  pid: number;
}

/** Handler runs by task id, from every worker process' log in `dir`. */
export function readRuns(dir: string): Map<string, RunEvent[]> {
  const runs = new Map<string, RunEvent[]>();
  for (const file of readdirSync(dir)) {
    const pid = /^runs-(\d+)\.log$/.exec(file)?.[1];
    if (!pid) continue;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const [event, taskId, attempt, at] = line.split(' ');
      // A process killed mid-write can leave a partial last line: skip it.
      if (!taskId || !at || !['start', 'done', 'fail', 'hang'].includes(event!)) continue;
      const entry: RunEvent = {
        event: event as RunEvent['event'],
        taskId,
        attempt: Number(attempt),
        at: Number(at),
        pid: Number(pid),
      };
      const list = runs.get(taskId) ?? [];
      list.push(entry);
      runs.set(taskId, list);
    }
  }
  for (const list of runs.values()) list.sort((a, b) => a.at - b.at);
  return runs;
}
