import { useState } from 'preact/hooks';
import { api, ApiFailure, keyStore } from '../api';

/**
 * Asks for an API key and keeps it only once the API accepts it. The probe is the same call the
 * app makes on load, so "accepted" means the same thing in both places.
 */
export function SignIn(props: { onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api('GET', '/v1/tasks?limit=1', { key: trimmed, handle401: true });
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) {
        setError('The API key was not accepted. Check it and try again.');
        setBusy(false);
        return;
      }
      if (err instanceof ApiFailure && err.status === 0) {
        setError(err.message);
        setBusy(false);
        return;
      }
      // Anything else (a key without tasks:read) is a key the API knows: the pages explain.
    }
    keyStore.set(trimmed);
    setBusy(false);
    props.onSignedIn();
  };

  return (
    <main class="signin">
      <div class="signin-card">
        <div class="signin-brand">
          <span class="brand-mark" aria-hidden="true" />
          <h1>Spillway console</h1>
        </div>
        <p class="muted">
          Sign in with an API key. It is kept in this tab only and sent to the API in the Authorization
          header.
        </p>
        <form onSubmit={submit} class="stack">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="current-password"
            spellcheck={false}
            value={key}
            onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)}
            aria-describedby={error ? 'signin-error' : undefined}
            required
          />
          {error && (
            <div role="alert" id="signin-error" class="notice notice-error">
              {error}
            </div>
          )}
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
