import { useRef, useState } from 'preact/hooks';
import { api, ApiFailure } from '../api';
import { SeriesWindow, TimeChart, type ChartData, type ChartSeries } from '../charts';
import { Facts, Panel } from '../components';
import { count, rate } from '../format';
import { usePoll } from '../hooks';
import type { Condition, Fleet } from '../types';

/**
 * The workers as Kubernetes runs them (GET /v1/fleet): replicas, KEDA's ScaledObject and the
 * HPA's metrics against their targets. Outside a cluster the route answers 404 and the panel
 * says so once, without polling on.
 */

const REPLICA_SERIES: ChartSeries[] = [
  { label: 'desired', color: '#1d4ed8' },
  { label: 'ready', color: '#15803d' },
];
const WINDOW_SECONDS = 600;
/** The fleet route reads three Kubernetes objects per call: every 5 s is plenty for a panel. */
const POLL_MS = 5000;

export function FleetPanel() {
  const [fleet, setFleet] = useState<Fleet | null>(null);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const [outside, setOutside] = useState(false);
  const replicas = useRef(new SeriesWindow(REPLICA_SERIES.length, WINDOW_SECONDS));
  const [data, setData] = useState<ChartData>([[], [], []]);

  usePoll(
    async (signal) => {
      if (outside) return;
      try {
        const next = await api<Fleet>('GET', '/v1/fleet', { signal });
        setFleet(next);
        setFailure(null);
        setData(
          replicas.current.push(Date.parse(next.at) || Date.now(), [
            next.workers.desiredReplicas,
            next.workers.readyReplicas,
          ]),
        );
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        if (err.status === 404) setOutside(true);
        else setFailure(err);
      }
    },
    POLL_MS,
    [outside],
  );

  return (
    <Panel title="Fleet" id="fleet" class="span-2">
      {outside && <p class="muted">Not running in a cluster: the fleet view needs Kubernetes.</p>}
      {failure && (
        <p role="status" class="notice notice-warn">
          The fleet could not be read: {failure.message}
        </p>
      )}
      {!outside && !fleet && !failure && <p class="muted">Reading the fleet…</p>}
      {fleet && <FleetBody fleet={fleet} data={data} />}
    </Panel>
  );
}

function FleetBody(props: { fleet: Fleet; data: ChartData }) {
  const { fleet } = props;
  const so = fleet.scaledObject;
  return (
    <div class="fleet">
      <div class="fleet-facts">
        <Facts
          items={[
            [
              'Workers',
              <span data-testid="fleet-replicas">
                {count(fleet.workers.desiredReplicas)} desired · {count(fleet.workers.readyReplicas)} ready
              </span>,
            ],
            ['Deployment', `${fleet.namespace}/${fleet.workers.name}`],
            [
              'ScaledObject',
              so ? (
                <span>
                  {so.name}: {conditionText('ready', so.ready)}, {conditionText('active', so.active)}
                  {so.paused && ', paused'} (replicas {so.minReplicaCount}–{so.maxReplicaCount})
                </span>
              ) : (
                'none (KEDA off)'
              ),
            ],
            ['Autoscaler', fleet.hpa ? <HpaMetrics hpa={fleet.hpa} /> : 'no HPA yet'],
            ...(fleet.drain
              ? ([
                  [
                    'Draining',
                    `${rate(fleet.drain.finishedPerSecond)} tasks/s` +
                      (fleet.drain.etaSeconds === null
                        ? ''
                        : `, about ${Math.round(fleet.drain.etaSeconds)} s to go`),
                  ],
                ] as [string, string][])
              : []),
          ]}
        />
      </div>
      <div class="fleet-chart">
        <TimeChart
          label="Worker replicas, last 10 minutes"
          series={REPLICA_SERIES}
          data={props.data}
          windowSeconds={WINDOW_SECONDS}
          height={160}
          format={count}
          integers
        />
      </div>
    </div>
  );
}

function HpaMetrics(props: { hpa: NonNullable<Fleet['hpa']> }) {
  const { hpa } = props;
  return (
    <span>
      {hpa.name}: {hpa.currentReplicas} → {hpa.desiredReplicas} replicas
      <ul class="plain">
        {hpa.metrics.map((m) => (
          <li key={m.name}>
            <code>{m.name}</code>: {m.current === null ? '—' : rate(m.current)} against a target of{' '}
            {m.target === null ? '—' : rate(m.target)}
            {m.targetType ? ` (${m.targetType})` : ''}
          </li>
        ))}
      </ul>
    </span>
  );
}

function conditionText(name: string, condition: Condition | null): string {
  if (!condition) return `${name} unknown`;
  return condition.status === 'True'
    ? name
    : `not ${name}${condition.reason ? ` (${condition.reason})` : ''}`;
}
