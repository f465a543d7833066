import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiFailure, enc } from '../api';
import { Alert, Dialog, Facts, FailureNotice, JsonBlock, Loading, StatusBadge, Time } from '../components';
import { curlCommand } from '../curl';
import { duration } from '../format';
import { usePoll } from '../hooks';
import { navigate, taskHref } from '../router';
import { TERMINAL_STATUSES, type Accepted, type TaskRecord } from '../types';
import { AttemptsTimeline } from './attempts';

/**
 * One task: its facts, its JSON (payload, result, error, progress, callback), its attempts, and
 * what may be done with it. While it is unfinished the page polls its record, so the status and
 * the running attempt move on their own.
 */

const POLL_MS = 1500;

export function TaskDetail(props: { id: string }) {
  const { id } = props;
  const [task, setTask] = useState<TaskRecord | null>(null);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const [missing, setMissing] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState<{ tone: 'error' | 'ok'; text: string } | null>(null);
  const [curl, setCurl] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const finished = task !== null && TERMINAL_STATUSES.has(task.status);
  usePoll(
    async (signal) => {
      setNow(Date.now());
      if (finished || missing >= 2) return;
      try {
        setTask(await api<TaskRecord>('GET', `/v1/tasks/${enc(id)}`, { signal }));
        setFailure(null);
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        // A record is written as its submission is accepted; one more look covers a write in flight.
        if (err.status === 404) setMissing((n) => n + 1);
        else setFailure(err);
      }
    },
    POLL_MS,
    [id, finished, missing],
  );

  if (missing >= 2 && !task) {
    return (
      <div class="page">
        <h1>Task {id}</h1>
        <Alert>Task {id} was not found: no such id, another tenant&apos;s task, or its record expired.</Alert>
        <p>
          <a href="#/tasks">Back to the tasks</a>
        </p>
      </div>
    );
  }

  const cancel = async () => {
    setBusy(true);
    try {
      setTask(await api<TaskRecord>('DELETE', `/v1/tasks/${enc(id)}`));
      setNotice({ tone: 'ok', text: 'The task was cancelled.' });
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      setNotice({ tone: 'error', text: `Not cancelled: ${err.message}` });
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };

  const runAgain = async () => {
    setBusy(true);
    try {
      const accepted = await api<Accepted>('POST', `/v1/tasks/${enc(id)}/replay`);
      navigate(taskHref(accepted.id));
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      setNotice({ tone: 'error', text: `Not run again: ${err.message}` });
    } finally {
      setBusy(false);
    }
  };

  const copyCurl = async () => {
    if (!task) return;
    const command = curlCommand(task);
    setCurl(command);
    try {
      await navigator.clipboard.writeText(command);
      setNotice({ tone: 'ok', text: 'The curl command was copied to the clipboard.' });
    } catch {
      // No clipboard (permissions, an insecure origin): the command is shown to copy by hand.
    }
  };

  return (
    <div class="page">
      <div class="page-head">
        <div>
          <p class="crumbs">
            <a href="#/tasks">← Tasks</a>
          </p>
          <h1 class="mono-title">Task {id}</h1>
          {task?.replayOf && (
            <p class="rerun">
              Re-run of <a href={taskHref(task.replayOf)}>{task.replayOf}</a>
            </p>
          )}
        </div>
        {task && (
          <div class="actions">
            {!finished && (
              <button
                type="button"
                class="button button-danger"
                disabled={busy}
                onClick={() => setConfirming(true)}
              >
                Cancel task
              </button>
            )}
            <button type="button" class="button" disabled={busy} onClick={() => void runAgain()}>
              Run again
            </button>
            <button type="button" class="button" onClick={() => void copyCurl()}>
              Copy as curl
            </button>
          </div>
        )}
      </div>
      {failure && <FailureNotice failure={failure} what="this task" />}
      {notice &&
        (notice.tone === 'error' ? (
          <Alert>{notice.text}</Alert>
        ) : (
          <p role="status" class="notice notice-ok">
            {notice.text}
          </p>
        ))}
      {curl && (
        <pre class="code curl" aria-label="curl command" tabIndex={0}>
          {curl}
        </pre>
      )}
      {!task && !failure && <Loading what="the task" />}
      {task && <TaskBody task={task} now={now} />}
      {confirming && (
        <Dialog title="Cancel this task?" onClose={() => setConfirming(false)}>
          <p>
            A task that has not started will never run; a running one is told to stop, and its result is
            discarded. This cannot be undone.
          </p>
          <div class="dialog-actions">
            <button type="button" class="button" onClick={() => setConfirming(false)} autoFocus>
              Keep running
            </button>
            <button type="button" class="button button-danger" disabled={busy} onClick={() => void cancel()}>
              Cancel task
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}

function TaskBody(props: { task: TaskRecord; now: number }) {
  const { task } = props;
  return (
    <div class="detail">
      <section class="panel" aria-label="Summary">
        <Facts
          items={[
            ['Status', <StatusBadge status={task.status} testId="task-status" />],
            ['Type', <code>{task.type}</code>],
            ['Tenant', task.tenant],
            [
              'Priority',
              `${task.priority}${task.lane && task.lane !== task.priority ? ` (waits in ${task.lane})` : ''}`,
            ],
            ['Key', task.key ? <code>{task.key}</code> : <span class="muted">none</span>],
            [
              'Attempts',
              task.maxAttempts ? `${task.attempts} of ${task.maxAttempts}` : String(task.attempts),
            ],
            [
              'Timeout',
              typeof task.timeoutMs === 'number' ? duration(task.timeoutMs) : 'the worker’s default',
            ],
            ['Created', <Time iso={task.createdAt} />],
            ...(task.runAt
              ? ([['Runs at', <Time iso={task.runAt} />]] as [string, ComponentChildren][])
              : []),
            ['Started', <Time iso={task.startedAt} />],
            ['Finished', <Time iso={task.finishedAt} />],
            ...(task.batch ? ([['Batch', <code>{task.batch}</code>]] as [string, ComponentChildren][]) : []),
            ...(task.schedule
              ? ([['Schedule', <code>{task.schedule}</code>]] as [string, ComponentChildren][])
              : []),
          ]}
        />
      </section>
      <div class="sections">
        <Section title="Payload">
          <JsonBlock
            value={task.payload}
            label="Payload"
            empty={
              'payload' in task ? 'none' : 'none (not kept: payloads over 64 KiB stay out of the record)'
            }
          />
        </Section>
        <Section title="Result">
          <JsonBlock value={task.result} label="Result" />
        </Section>
        <Section title="Error">
          <JsonBlock value={task.error} label="Error" />
        </Section>
        <Section title="Progress">
          <JsonBlock value={task.progress} label="Progress" />
        </Section>
        <Section title="Attempts" wide>
          <AttemptsTimeline task={task} now={props.now} />
        </Section>
        <Section title="Callback">
          <JsonBlock
            value={
              task.callbackUrl || task.callback
                ? { url: task.callbackUrl ?? null, delivery: task.callback ?? null }
                : null
            }
            label="Callback"
          />
        </Section>
      </div>
    </div>
  );
}

function Section(props: { title: string; children: ComponentChildren; wide?: boolean }) {
  const id = `s-${props.title.toLowerCase()}`;
  return (
    <section class={`panel ${props.wide ? 'span-2' : ''}`} aria-labelledby={id}>
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </section>
  );
}
