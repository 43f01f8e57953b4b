// Keeping a screen current: useLiveQuery loads a query and loads it again
// whenever its live channel says something changed (live-stream.ts), and at
// once after the user's own command with that command's consistency token, so
// the screen never shows state older than what its user just did.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, query } from './api';
import { subscribe } from './live-stream';

export interface LiveQuery<T> {
  readonly data: T | undefined;
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  /** When `data` was fetched (epoch ms, this browser's clock). */
  readonly fetchedAt: number;
  /** Loads again; with a command's consistency token, waits until the read model has it. */
  refresh(consistency?: string): Promise<void>;
}

/**
 * `path`: the query (null: nothing to load yet). `channel`: the live stream
 * whose changes affect it (live-stream.ts names them).
 */
export function useLiveQuery<T>(path: string | null, channel: string | null): LiveQuery<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean; fetchedAt: number }>({
    data: undefined,
    error: undefined,
    loading: path !== null,
    fetchedAt: 0,
  });
  // Answers can arrive out of order: only the newest request may set the state.
  const generation = useRef(0);
  const load = useCallback(
    async (consistency?: string): Promise<void> => {
      if (path === null) return;
      const mine = ++generation.current;
      try {
        const data = await query<T>(path, { consistency });
        if (mine === generation.current) setState({ data, error: undefined, loading: false, fetchedAt: Date.now() });
      } catch (err) {
        const error = err instanceof ApiError ? err : new ApiError('Something went wrong loading this screen.', 0, 'unexpected', { cause: err });
        if (mine === generation.current) setState((s) => ({ ...s, error, loading: false }));
      }
    },
    [path],
  );

  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: path !== null, fetchedAt: 0 });
    void load();
    if (path === null || channel === null) return undefined;
    return subscribe(channel, () => void load());
  }, [path, channel, load]);

  return { ...state, refresh: load };
}

/** The current time, ticking every `everyMs` (for waiting times that count up). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
