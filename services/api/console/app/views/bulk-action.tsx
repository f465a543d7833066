import { useState } from 'preact/hooks';
import { api, ApiFailure } from '../api';
import { Alert, Dialog } from '../components';
import { count, plural } from '../format';
import type { BulkResult } from '../types';
import type { LetterFilters } from './dead-letters';

/**
 * "Replay matching" and "Discard matching": each asks the API first with dryRun, so the dialog
 * states how many letters the action will touch, counted by the server under the same filter it
 * then acts on. The routes are idempotent, so a retried click never replays a letter twice.
 */

type Verb = 'replay' | 'discard';

const WORDS: Record<Verb, { button: string; confirm: string; done: string }> = {
  replay: { button: 'Replay', confirm: 'Replay', done: 'Replayed' },
  discard: { button: 'Discard', confirm: 'Discard', done: 'Discarded' },
};

export function BulkAction(props: { filters: LetterFilters; onDone: () => void }) {
  const [asking, setAsking] = useState<{ verb: Verb; matched: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [failure, setFailure] = useState<ApiFailure | null>(null);

  const call = (verb: Verb, dryRun: boolean) =>
    api<BulkResult>('POST', `/v1/dead-letters/${verb}`, { body: { filter: props.filters, dryRun } });

  const ask = async (verb: Verb) => {
    setBusy(true);
    setResult(null);
    setFailure(null);
    try {
      const { matched } = await call(verb, true);
      setAsking({ verb, matched });
    } catch (err) {
      if (err instanceof ApiFailure) setFailure(err);
      else throw err;
    } finally {
      setBusy(false);
    }
  };

  const act = async () => {
    if (!asking) return;
    setBusy(true);
    try {
      const answer = await call(asking.verb, false);
      const done = (asking.verb === 'replay' ? answer.replayed : answer.discarded) ?? answer.matched;
      setResult(`${WORDS[asking.verb].done} ${count(done)}`);
      props.onDone();
    } catch (err) {
      if (err instanceof ApiFailure) setFailure(err);
      else throw err;
    } finally {
      setBusy(false);
      setAsking(null);
    }
  };

  return (
    <div class="bulk">
      <div class="actions">
        <button type="button" class="button" disabled={busy} onClick={() => void ask('replay')}>
          Replay matching
        </button>
        <button
          type="button"
          class="button button-danger"
          disabled={busy}
          onClick={() => void ask('discard')}
        >
          Discard matching
        </button>
      </div>
      {result && (
        <p role="status" class="notice notice-ok">
          {result}
        </p>
      )}
      {failure && (
        <Alert>
          Not done: {failure.message}
          {failure.status > 0 && ` (HTTP ${failure.status})`}
        </Alert>
      )}
      {asking && (
        <Dialog
          title={
            asking.matched === 0
              ? 'No dead letters match'
              : `${WORDS[asking.verb].button} ${plural(asking.matched, 'dead letter')}?`
          }
          onClose={() => setAsking(null)}
        >
          <p>
            {asking.matched === 0
              ? 'Nothing matches the filters shown.'
              : asking.verb === 'replay'
                ? 'Each is submitted again as a new task; a letter replayed before is left alone.'
                : 'They are removed from the list for good; the dead-letter topic keeps its copy.'}
          </p>
          <div class="dialog-actions">
            <button type="button" class="button" onClick={() => setAsking(null)} autoFocus>
              Cancel
            </button>
            {asking.matched > 0 && (
              <button
                type="button"
                class={`button ${asking.verb === 'discard' ? 'button-danger' : 'button-primary'}`}
                disabled={busy}
                onClick={() => void act()}
              >
                {WORDS[asking.verb].confirm} {count(asking.matched)}
              </button>
            )}
          </div>
        </Dialog>
      )}
    </div>
  );
}
