import { kubectl } from './cluster';
import type { Release } from './release';

/** A worker's tasks consumer rejoining its group, as the worker logs it. */
export interface Rejoin {
  pod: string;
  /** Epoch ms of the join. */
  at: number;
  /** How long the rebalance stopped this worker's fetching (absent on its first join). */
  rebalanceMs?: number;
  partitions: number[];
}

/** Every "joined consumer group" line the release's worker pods (those alive now) logged. */
export async function workerRejoins(release: Release): Promise<Rejoin[]> {
  const found: Rejoin[] = [];
  for (const pod of await release.workerPods()) {
    const name: string = pod.metadata.name;
    const logs = await kubectl(['logs', name, '-n', release.namespace, '-c', 'worker']);
    for (const line of logs.split('\n')) {
      if (!line.includes('"joined consumer group"')) continue;
      try {
        const entry = JSON.parse(line) as { time: string; rebalanceMs?: number; partitions: number[] };
        found.push({
          pod: name,
          at: Date.parse(entry.time),
          rebalanceMs: entry.rebalanceMs,
          partitions: entry.partitions,
        });
      } catch {
        // Not one of ours (a line kafkajs printed); skip it.
      }
    }
  }
  return found.sort((a, b) => a.at - b.at);
}
