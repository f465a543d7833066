import type { ConditionView, FleetView } from '../shared/kubernetes/fleet';
import { duration, table } from './output';
import { lagTable } from './commands/stats';

/**
 * The fleet as text: Kubernetes' side (workers, KEDA, HPA) on the left, the queue's (lag, oldest
 * wait, drain rate) on the right, so "is it scaling?" and "is it draining?" read on one screen.
 */
export function renderFleet(view: FleetView): string[] {
  const header = `spillway fleet   namespace ${view.namespace}   ${view.at}`;
  return [header, '', ...sideBySide(kubernetesSide(view), queueSide(view))];
}

function kubernetesSide({ workers, scaledObject: so, hpa }: FleetView): string[] {
  const lines = [
    `WORKERS   deployment ${workers.name}`,
    ...indent([
      [
        'replicas',
        `${workers.readyReplicas} ready of ${workers.desiredReplicas} desired` +
          ` (${workers.updatedReplicas} updated, ${workers.availableReplicas} available)`,
      ],
    ]),
  ];
  if (!so) return [...lines, 'KEDA      off (no ScaledObject given)'];
  lines.push(
    `KEDA      scaledobject ${so.name}${so.paused ? ' (PAUSED)' : ''}`,
    ...indent([
      ['ready', condition(so.ready)],
      ['active', condition(so.active)],
      ['replicas', `${so.minReplicaCount} to ${so.maxReplicaCount}`],
      ...so.triggers.flatMap((t): [string, string][] => [
        [
          'trigger',
          [t.type, t.topic, t.lagThreshold !== null ? `${t.lagThreshold} lag per worker` : null]
            .filter(Boolean)
            .join(', '),
        ],
        ...(t.metricName ? [['metric', t.metricName] as [string, string]] : []),
      ]),
    ]),
  );
  if (!hpa) return [...lines, `HPA       ${so.hpaName}: not created yet (KEDA makes it once Ready)`];
  return [
    ...lines,
    `HPA       ${hpa.name}`,
    ...indent([
      [
        'replicas',
        `${hpa.currentReplicas} now, ${hpa.desiredReplicas} desired (${hpa.minReplicas} to ${hpa.maxReplicas})`,
      ],
      ...hpa.metrics.map((m): [string, string] => [
        'metric',
        m.targetType === 'Utilization'
          ? `${num(m.current)} % now, target ${num(m.target)} %`
          : `${num(m.current)}${m.targetType === 'AverageValue' ? ' per worker' : ''} now, target ${num(m.target)}`,
      ]),
      ...(hpa.scalingLimited
        ? [
            ['limited', `${hpa.scalingLimited.reason ?? ''} ${hpa.scalingLimited.message ?? ''}`.trim()] as [
              string,
              string,
            ],
          ]
        : []),
    ]),
  ];
}

function queueSide({ queue, drain }: FleetView): string[] {
  const rows: [string, string][] = [
    ['lag', `${queue.lag.total} on ${queue.lag.partitions.length} partitions`],
    [
      'oldest',
      queue.oldestWaitingAgeSeconds === null
        ? 'nothing waits'
        : `${duration(queue.oldestWaitingAgeSeconds)} waiting`,
    ],
    [
      'drain',
      drain
        ? `${num(drain.finishedPerSecond)} finished/s (${num(drain.succeededPerSecond)} succeeded/s, over ${duration(drain.windowSeconds)})`
        : 'measuring…',
    ],
    ...(drain
      ? [
          [
            'empty in',
            drain.etaSeconds === null
              ? 'never at this pace (nothing finishes)'
              : drain.etaSeconds === 0
                ? 'now (no lag)'
                : `~${duration(drain.etaSeconds)} at this pace`,
          ] as [string, string],
        ]
      : []),
    ['dead letters', String(queue.deadLetters)],
  ];
  return ['QUEUE', ...indent(rows), '', ...lagTable(queue).map((l) => `  ${l}`)];
}

function indent(rows: [string, string][]): string[] {
  return table(rows).map((line) => `  ${line}`);
}

function condition(c: ConditionView | null): string {
  if (!c) return 'unknown (no condition yet)';
  return [c.status, c.reason].filter(Boolean).join('  ');
}

/** At most two decimals, no trailing zeros; "-" for none. */
function num(value: number | null): string {
  return value === null ? '-' : String(Math.round(value * 100) / 100);
}

function sideBySide(left: string[], right: string[]): string[] {
  const width = Math.max(...left.map((l) => l.length)) + 4;
  return Array.from({ length: Math.max(left.length, right.length) }, (_, i) =>
    ((left[i] ?? '').padEnd(width) + (right[i] ?? '')).trimEnd(),
  );
}
