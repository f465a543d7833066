import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiFailure, query } from '../api';
import { FailureNotice, Loading, Time } from '../components';
import { href, navigate, taskHref } from '../router';
import { DEAD_LETTER_REASONS, type DeadLetter, type DeadLetterPage } from '../types';
import { BulkAction } from './bulk-action';

/**
 * GET /v1/dead-letters with its reason and type filters, and the bulk routes that act on every
 * letter the same filters match (POST /v1/dead-letters/replay and /discard).
 */

const PAGE_SIZE = 50;

export interface LetterFilters {
  reason?: string;
  type?: string;
}

export function DeadLetters(props: { params: URLSearchParams }) {
  const search = props.params.toString();
  const filters = useMemo<LetterFilters>(() => {
    const reason = props.params.get('reason')?.trim();
    const type = props.params.get('type')?.trim();
    return { ...(reason && { reason }), ...(type && { type }) };
  }, [search]);
  const [rows, setRows] = useState<DeadLetter[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [failure, setFailure] = useState<ApiFailure | null>(null);
  const [reloads, setReloads] = useState(0);

  const load = async (after: string | null, signal?: AbortSignal) => {
    setLoading(true);
    try {
      const page = await api<DeadLetterPage>(
        'GET',
        `/v1/dead-letters${query({ ...filters, limit: PAGE_SIZE, cursor: after })}`,
        signal ? { signal } : {},
      );
      setRows((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setFailure(null);
    } catch (err) {
      if (err instanceof ApiFailure) setFailure(err);
      else if ((err as Error).name !== 'AbortError') throw err;
    } finally {
      if (!signal?.aborted) setLoading(false);
    }
  };

  useEffect(() => {
    const controller = new AbortController();
    setRows([]);
    setCursor(null);
    void load(null, controller.signal);
    return () => controller.abort();
  }, [search, reloads]);

  return (
    <div class="page">
      <div class="page-head">
        <h1>Dead letters</h1>
        <BulkAction filters={filters} onDone={() => setReloads((n) => n + 1)} />
      </div>
      <LetterFilterForm key={search} filters={filters} />
      {failure && <FailureNotice failure={failure} what="dead letters" />}
      {!failure && <LetterTable rows={rows} />}
      {loading && <Loading what="dead letters" />}
      {!loading && !failure && rows.length === 0 && <p class="empty">No dead letters match.</p>}
      {cursor && !failure && (
        <div class="more">
          <button type="button" class="button" disabled={loading} onClick={() => void load(cursor)}>
            Load more
          </button>
        </div>
      )}
    </div>
  );
}

function LetterFilterForm(props: { filters: LetterFilters }) {
  const [reason, setReason] = useState(props.filters.reason ?? '');
  const [type, setType] = useState(props.filters.type ?? '');
  const apply = (event: Event) => {
    event.preventDefault();
    navigate(href('/dead-letters', { reason, type: type.trim() }));
  };
  return (
    <form role="search" aria-label="Filter dead letters" class="filters" onSubmit={apply}>
      <div class="field">
        <label for="dl-reason">Reason</label>
        <select
          id="dl-reason"
          value={reason}
          onChange={(e) => setReason((e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">any</option>
          {DEAD_LETTER_REASONS.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="dl-type">Type</label>
        <input
          id="dl-type"
          type="text"
          spellcheck={false}
          autoComplete="off"
          value={type}
          onInput={(e) => setType((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      <div class="field-actions">
        <button type="submit" class="button button-primary">
          Apply
        </button>
      </div>
    </form>
  );
}

function LetterTable(props: { rows: DeadLetter[] }) {
  return (
    <div class="table-wrap">
      <table class="table" aria-label="Dead letters">
        <thead>
          <tr>
            <th scope="col">ID</th>
            <th scope="col">Reason</th>
            <th scope="col">Type</th>
            <th scope="col">Error</th>
            <th scope="col">Dead at</th>
            <th scope="col">Replayed as</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((letter) => (
            <tr key={letter.id} data-testid={`dead-letter-row-${letter.id}`}>
              <td class="mono id-cell">
                {letter.task ? <a href={taskHref(letter.id)}>{letter.id}</a> : letter.id}
              </td>
              <td>
                <span class={`reason reason-${letter.reason}`}>{letter.reason}</span>
              </td>
              <td>{letter.task?.type ?? <span class="muted">—</span>}</td>
              <td class="error-cell">
                <strong>{letter.error.name}</strong> {letter.error.message}
                {letter.reason === 'poison' && letter.raw !== null && (
                  <pre class="code raw" aria-label={`Raw message ${letter.id}`} tabIndex={0}>
                    {letter.raw}
                  </pre>
                )}
              </td>
              <td class="nowrap">
                <Time iso={letter.deadAt} />
              </td>
              <td class="mono id-cell">
                {letter.replayedAs ? (
                  <a href={taskHref(letter.replayedAs)}>{letter.replayedAs}</a>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
