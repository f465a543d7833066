import { useEffect, useRef } from 'preact/hooks';
import { openEventStream, type StreamHandlers } from './sse';

/**
 * Calls `tick` now and then every `ms` while the view is shown. The next call is scheduled only
 * after the previous one settled, so a slow API never has two of them in flight.
 */
export function usePoll(tick: (signal: AbortSignal) => Promise<void>, ms: number, deps: unknown[]): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        await latest.current(controller.signal);
      } catch {
        // The tick shows its own failures; polling goes on (the API may be back next time).
      }
      if (!controller.signal.aborted) timer = setTimeout(() => void run(), ms);
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [ms, ...deps]);
}

/** GET /v1/events with `params` while the view is shown (and `enabled`); reopened when they change. */
export function useEventStream(params: URLSearchParams | null, handlers: StreamHandlers): void {
  const latest = useRef(handlers);
  latest.current = handlers;
  const key = params?.toString() ?? null;
  useEffect(() => {
    if (key === null) return undefined;
    return openEventStream(new URLSearchParams(key), {
      onEvent: (name, data) => latest.current.onEvent(name, data),
      onOpen: () => latest.current.onOpen?.(),
      onRefused: (failure) => latest.current.onRefused?.(failure),
    });
  }, [key]);
}
