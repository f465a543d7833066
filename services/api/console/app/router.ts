import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes: the console is one file the API serves at /console/, so the route lives after the
 * `#` (the server never sees it) and a reload or a shared link opens the same view. Filters are
 * the route's query (`#/tasks?status=failed&q=timeout`).
 */

export type Route =
  | { view: 'overview'; params: URLSearchParams }
  | { view: 'tasks'; params: URLSearchParams }
  | { view: 'task'; id: string; params: URLSearchParams }
  | { view: 'dead-letters'; params: URLSearchParams }
  | { view: 'unknown'; params: URLSearchParams };

export function parseHash(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?', 2);
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'overview'))
    return { view: 'overview', params };
  if (parts[0] === 'tasks' && parts.length === 1) return { view: 'tasks', params };
  if (parts[0] === 'tasks' && parts.length === 2) return { view: 'task', id: parts[1]!, params };
  if (parts[0] === 'dead-letters' && parts.length === 1) return { view: 'dead-letters', params };
  return { view: 'unknown', params };
}

/** `#/tasks?status=failed`: empty parameters are left out. */
export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

export function taskHref(id: string): string {
  return `#/tasks/${encodeURIComponent(id)}`;
}

export function navigate(to: string): void {
  if (location.hash !== to) location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}
