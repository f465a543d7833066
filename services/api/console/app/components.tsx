import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { ApiFailure } from './api';
import { dateTime, json } from './format';

/** Small pieces every view uses; each keeps the accessible names the UI contract relies on. */

const STATUS_TONE: Record<string, string> = {
  queued: 'neutral',
  scheduled: 'neutral',
  running: 'info',
  retrying: 'warn',
  'waiting-children': 'info',
  succeeded: 'good',
  failed: 'bad',
  cancelled: 'muted',
};

export function StatusBadge(props: { status: string; testId?: string }) {
  return (
    <span class={`badge badge-${STATUS_TONE[props.status] ?? 'neutral'}`} data-testid={props.testId}>
      {props.status}
    </span>
  );
}

export function Time(props: { iso: string | null | undefined }) {
  if (!props.iso) return <span class="muted">—</span>;
  return (
    <time dateTime={props.iso} title={props.iso}>
      {dateTime(props.iso)}
    </time>
  );
}

/** A JSON value in a <pre>, or "none" when there is nothing. */
export function JsonBlock(props: { value: unknown; label: string; empty?: string }) {
  if (props.value === undefined || props.value === null) return <p class="muted">{props.empty ?? 'none'}</p>;
  return (
    <pre class="code" aria-label={props.label} tabIndex={0}>
      {json(props.value)}
    </pre>
  );
}

export function Alert(props: { children: ComponentChildren; tone?: 'error' | 'warn' }) {
  return (
    <div role="alert" class={`notice notice-${props.tone ?? 'error'}`}>
      {props.children}
    </div>
  );
}

/** What a failed call means to the person looking at the page. */
export function FailureNotice(props: { failure: ApiFailure; what: string }) {
  const { failure } = props;
  if (failure.status === 403) {
    const scope = failure.details.find((d) => d.field === 'scope')?.message;
    return (
      <Alert tone="warn">
        <strong>Your API key may not see {props.what}.</strong> {sentence(failure.message)}
        {scope && ` (${scope})`}
      </Alert>
    );
  }
  return (
    <Alert>
      <strong>Could not load {props.what}.</strong> {sentence(failure.message)}
      {failure.status > 0 && (
        <span class="muted">
          {' '}
          (HTTP {failure.status}, {failure.code})
        </span>
      )}
    </Alert>
  );
}

/** The API's messages are lower-case clauses: "this API key lacks …" → "This API key lacks …." */
function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export function Loading(props: { what: string }) {
  return (
    <p class="muted loading" aria-live="polite">
      Loading {props.what}…
    </p>
  );
}

/**
 * A modal dialog on the native <dialog>: the browser traps focus, Escape closes it, and the
 * page behind is inert. Open while rendered; `onClose` runs however it closes.
 */
export function Dialog(props: { title: string; children: ComponentChildren; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef(`dialog-${Math.random().toString(36).slice(2)}`).current;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={titleId} onClose={props.onClose}>
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}

/** A definition list of label → value pairs (the task's facts). */
export function Facts(props: { items: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {props.items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A section with a heading that names it as a region (role=region needs a name). */
export function Panel(props: {
  title: string;
  id: string;
  children: ComponentChildren;
  class?: string;
  actions?: ComponentChildren;
}) {
  return (
    <section class={`panel ${props.class ?? ''}`} aria-labelledby={`${props.id}-title`}>
      <header class="panel-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}
