import type { ComponentChildren } from 'preact';
import { useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiFailure } from '../api';
import { SeriesWindow, TimeChart, type ChartData, type ChartSeries } from '../charts';
import { FailureNotice, Panel, StatusBadge } from '../components';
import { count, duration, rate } from '../format';
import { useEventStream, usePoll } from '../hooks';
import { TASK_STATUSES, type QueueStats, type RatesEvent } from '../types';
import { FleetPanel } from './fleet-panel';

/**
 * The queue at a glance: live rates from the event stream's `rates` events, and counts, lag and
 * dead letters from GET /v1/stats every 2 s. Both are queue-wide, so both need an admin key;
 * with another key the page says so and points to the tasks it may see.
 */

const RATE_SERIES: ChartSeries[] = [
  { label: 'submitted', color: '#6d28d9' },
  { label: 'started', color: '#1d4ed8' },
  { label: 'succeeded', color: '#15803d' },
  { label: 'failed', color: '#b91c1c' },
];
const LAG_SERIES: ChartSeries[] = [{ label: 'total lag', color: '#b45309' }];
const WINDOW_SECONDS = 300;
const EMPTY: ChartData = [[], []];
/** Rates and keep-alives only: no task events, thousands a second in a burst, none of which it draws. */
const RATES_ONLY = { tasks: 'none' };

export function Overview() {
  const [stats, setStats] = useState<QueueStats | null>(null);
  const [statsFailure, setStatsFailure] = useState<ApiFailure | null>(null);
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const rates = useRef(new SeriesWindow(RATE_SERIES.length, WINDOW_SECONDS));
  const lags = useRef(new SeriesWindow(1, WINDOW_SECONDS));
  const [rateData, setRateData] = useState<ChartData>(() => [[], [], [], [], []]);
  const [lagData, setLagData] = useState<ChartData>(EMPTY);
  const [ratesRefused, setRatesRefused] = useState<ApiFailure | null>(null);

  usePoll(
    async (signal) => {
      try {
        const next = await api<QueueStats>('GET', '/v1/stats', { signal });
        setStats(next);
        setCounts(next.counts);
        setStatsFailure(null);
        setLagData(lags.current.push(Date.now(), [next.lag.total]));
      } catch (err) {
        if (err instanceof ApiFailure) setStatsFailure(err);
        throw err;
      }
    },
    2000,
    [],
  );

  const forbidden = statsFailure?.status === 403;
  // Rates go to admin keys only: another key's stream would carry nothing this page shows.
  const streamParams = useMemo(() => (forbidden ? null : new URLSearchParams(RATES_ONLY)), [forbidden]);
  useEventStream(streamParams, {
    onEvent: (name, data) => {
      if (name !== 'rates') return;
      const event = JSON.parse(data) as RatesEvent;
      const p = event.perSecond;
      setRateData(rates.current.push(Date.parse(event.at), [p.submitted, p.started, p.succeeded, p.failed]));
      setCounts(event.counts);
    },
    onRefused: setRatesRefused,
  });

  if (forbidden && statsFailure) {
    return (
      <div class="page">
        <h1>Overview</h1>
        <FailureNotice failure={statsFailure} what="the queue-wide overview" />
        <p>
          You can still look at <a href="#/tasks">your tasks</a> and <a href="#/dead-letters">dead letters</a>
          .
        </p>
      </div>
    );
  }

  return (
    <div class="page">
      <div class="page-head">
        <h1>Overview</h1>
        <p class="muted">Live: rates every second, statistics every 2 s.</p>
      </div>
      {statsFailure && <FailureNotice failure={statsFailure} what="queue statistics" />}
      <div class="kpis">
        <Kpi label="Oldest waiting task" testId="oldest-waiting">
          {stats
            ? stats.oldestWaitingAgeSeconds === null
              ? 'none'
              : duration(stats.oldestWaitingAgeSeconds * 1000)
            : '…'}
        </Kpi>
        <Kpi label="Total lag (messages)" testId="lag-total">
          {stats ? count(stats.lag.total) : '…'}
        </Kpi>
        <Kpi label="Running" testId="running-now">
          {counts ? count(counts.running ?? 0) : '…'}
        </Kpi>
        <div class="kpi">
          <span class="kpi-label">Dead letters</span>
          <a class="kpi-value" href="#/dead-letters" data-testid="dead-letter-count">
            {stats ? count(stats.deadLetters) : '…'}
          </a>
        </div>
      </div>
      <div class="grid-2">
        <Panel title="Rates" id="rates" class="span-2">
          <p class="muted small">Tasks per second over the last 5 minutes.</p>
          {ratesRefused && <FailureNotice failure={ratesRefused} what="live rates" />}
          <TimeChart
            label="Tasks per second, last 5 minutes"
            series={RATE_SERIES}
            data={rateData}
            windowSeconds={WINDOW_SECONDS}
            format={rate}
          />
        </Panel>
        <Panel title="Counts by status" id="counts">
          <table class="table compact" aria-label="Counts by status">
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Tasks
                </th>
              </tr>
            </thead>
            <tbody>
              {TASK_STATUSES.map((status) => (
                <tr key={status}>
                  <th scope="row">
                    <StatusBadge status={status} />
                  </th>
                  <td class="num" data-testid={`count-${status}`}>
                    {counts ? count(counts[status] ?? 0) : '…'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted small">Waiting and running: tasks there now. Finished: how many ever ended so.</p>
        </Panel>
        <Panel title="Lag" id="lag">
          <TimeChart
            label="Total lag, last 5 minutes"
            series={LAG_SERIES}
            data={lagData}
            windowSeconds={WINDOW_SECONDS}
            height={140}
            format={count}
            integers
          />
          <LagTable stats={stats} />
        </Panel>
        <FleetPanel />
      </div>
    </div>
  );
}

function Kpi(props: { label: string; testId: string; children: ComponentChildren }) {
  return (
    <div class="kpi">
      <span class="kpi-label">{props.label}</span>
      <span class="kpi-value" data-testid={props.testId}>
        {props.children}
      </span>
    </div>
  );
}

function LagTable(props: { stats: QueueStats | null }) {
  const partitions = props.stats?.lag.partitions ?? [];
  return (
    // Focusable: a region that scrolls must be reachable from the keyboard.
    <div class="table-wrap table-scroll" tabIndex={0}>
      <table class="table compact" aria-label="Lag by partition">
        <thead>
          <tr>
            <th scope="col">Lane</th>
            <th scope="col" class="num">
              Partition
            </th>
            <th scope="col" class="num">
              Lag
            </th>
          </tr>
        </thead>
        <tbody>
          {partitions.map((p) => (
            <tr key={`${p.lane}:${p.partition}`}>
              <td>{p.lane}</td>
              <td class="num">{p.partition}</td>
              <td class={`num ${p.lag > 0 ? 'strong' : 'muted'}`}>{count(p.lag)}</td>
            </tr>
          ))}
          {props.stats && partitions.length === 0 && (
            <tr>
              <td colSpan={3} class="muted">
                No partitions yet
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
