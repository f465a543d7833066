import { useState } from 'preact/hooks';
import { fromLocalInput, toLocalInput } from '../format';
import { href, navigate } from '../router';
import { TASK_STATUSES } from '../types';

/**
 * The task filters, as GET /v1/tasks names them. They live in the route's query, so Apply is a
 * navigation: the back button undoes it and a link shares it. Times travel as ISO 8601 (what the
 * API takes) and are shown in the browser's time zone.
 */
export const TASK_FILTERS = ['status', 'type', 'tenant', 'key', 'id', 'since', 'until', 'q'] as const;
export type TaskFilter = (typeof TASK_FILTERS)[number];
export type TaskFilters = Partial<Record<TaskFilter, string>>;

export function filtersOf(params: URLSearchParams): TaskFilters {
  const filters: TaskFilters = {};
  for (const name of TASK_FILTERS) {
    const value = params.get(name)?.trim();
    if (value) filters[name] = value;
  }
  return filters;
}

const TEXT_FIELDS: { name: TaskFilter; label: string; placeholder?: string }[] = [
  { name: 'type', label: 'Type', placeholder: 'echo' },
  { name: 'tenant', label: 'Tenant' },
  { name: 'key', label: 'Key prefix' },
  { name: 'id', label: 'Id prefix' },
];

export function TaskFilterForm(props: { filters: TaskFilters }) {
  const [values, setValues] = useState<TaskFilters>(() => ({
    ...props.filters,
    since: toLocalInput(props.filters.since),
    until: toLocalInput(props.filters.until),
  }));
  const set = (name: TaskFilter) => (event: Event) =>
    setValues({ ...values, [name]: (event.currentTarget as HTMLInputElement).value });

  const apply = (event: Event) => {
    event.preventDefault();
    navigate(
      href('/tasks', {
        ...values,
        since: fromLocalInput(values.since ?? ''),
        until: fromLocalInput(values.until ?? ''),
      }),
    );
  };
  const clear = () => navigate('#/tasks');

  return (
    <form role="search" aria-label="Filter tasks" class="filters" onSubmit={apply}>
      <div class="field">
        <label for="f-status">Status</label>
        <select id="f-status" value={values.status ?? ''} onChange={set('status')}>
          <option value="">any</option>
          {TASK_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      {TEXT_FIELDS.map((f) => (
        <div class="field" key={f.name}>
          <label for={`f-${f.name}`}>{f.label}</label>
          <input
            id={`f-${f.name}`}
            type="text"
            spellcheck={false}
            autoComplete="off"
            value={values[f.name] ?? ''}
            placeholder={f.placeholder}
            onInput={set(f.name)}
          />
        </div>
      ))}
      <div class="field">
        <label for="f-since">Created since</label>
        <input id="f-since" type="datetime-local" value={values.since ?? ''} onInput={set('since')} />
      </div>
      <div class="field">
        <label for="f-until">Created until</label>
        <input id="f-until" type="datetime-local" value={values.until ?? ''} onInput={set('until')} />
      </div>
      <div class="field field-wide">
        <label for="f-q">Error text</label>
        <input
          id="f-q"
          type="search"
          maxLength={200}
          value={values.q ?? ''}
          placeholder="timeout"
          onInput={set('q')}
        />
      </div>
      <div class="field-actions">
        <button type="submit" class="button button-primary">
          Apply
        </button>
        <button type="button" class="button button-quiet" onClick={clear}>
          Clear
        </button>
      </div>
    </form>
  );
}
