import { StatusBadge, Time } from '../components';
import { duration } from '../format';
import { TERMINAL_STATUSES, type TaskRecord } from '../types';

/**
 * A task's attempts as a timeline: the failed ones from its history (the last 20, oldest first)
 * and the latest one from the record itself when it is not a failure in the history (running
 * now, or the one that succeeded). Each bar sits on one time axis from the first start to the
 * last end, so the gaps between bars are the retry delays.
 */

interface AttemptView {
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  outcome: string;
  error: string | null;
}

export function attemptsOf(task: TaskRecord, now: number): AttemptView[] {
  const items: AttemptView[] = task.history.map((h) => ({
    attempt: h.attempt,
    startedAt: Date.parse(h.startedAt),
    finishedAt: Date.parse(h.finishedAt),
    outcome: 'failed',
    error: `${h.error.name}: ${h.error.message}`,
  }));
  const last = items[items.length - 1]?.attempt ?? 0;
  if (task.attempts > last) {
    const started = task.startedAt ? Date.parse(task.startedAt) : null;
    const finished = task.finishedAt ? Date.parse(task.finishedAt) : null;
    const done = TERMINAL_STATUSES.has(task.status) || task.status === 'waiting-children';
    items.push({
      attempt: task.attempts,
      startedAt: started,
      finishedAt: done ? finished : started === null ? null : now,
      outcome: task.status,
      error: task.error && task.status === 'failed' ? `${task.error.name}: ${task.error.message}` : null,
    });
  }
  return items;
}

export function AttemptsTimeline(props: { task: TaskRecord; now: number }) {
  const items = attemptsOf(props.task, props.now);
  if (items.length === 0) return <p class="muted">No attempt yet: the task has not started.</p>;
  const starts = items.map((i) => i.startedAt).filter((t): t is number => t !== null);
  const ends = items.map((i) => i.finishedAt ?? i.startedAt).filter((t): t is number => t !== null);
  const from = Math.min(...starts);
  const span = Math.max(Math.max(...ends) - from, 1);
  return (
    <ol class="timeline" aria-label="Attempts">
      {items.map((item) => {
        const ms =
          item.startedAt !== null && item.finishedAt !== null ? item.finishedAt - item.startedAt : NaN;
        const width = Number.isFinite(ms) ? Math.max((ms / span) * 100, 0.8) : 0.8;
        // A short last attempt would start at 100%: keep its (minimum) bar inside the track.
        const start = item.startedAt === null ? 0 : ((item.startedAt - from) / span) * 100;
        const left = Math.min(start, 100 - width);
        return (
          <li key={item.attempt} class={`attempt attempt-${item.outcome}`}>
            <div class="attempt-head">
              <strong>Attempt {item.attempt}</strong>
              <StatusBadge status={item.outcome} />
              <span class="muted">
                {Number.isFinite(ms) ? duration(ms) : 'duration unknown'}
                {item.outcome === 'running' && ' so far'}
              </span>
              {item.startedAt !== null && (
                <span class="muted small">
                  started <Time iso={new Date(item.startedAt).toISOString()} />
                </span>
              )}
            </div>
            <div class="attempt-track" aria-hidden="true">
              <div class="attempt-bar" style={{ marginLeft: `${left}%`, width: `${width}%` }} />
            </div>
            {item.error && <p class="attempt-error">{item.error}</p>}
          </li>
        );
      })}
    </ol>
  );
}
