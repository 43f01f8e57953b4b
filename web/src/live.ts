// Keeping a screen current.
//
// useLive: the screen's state comes from a live stream (snapshot, then
// changes); after the user's own command, refresh(token) reopens the stream
// with the reply's consistency token, so the next snapshot includes that
// command's effect and the screen never shows state older than what its user
// just did. useQuery: a plain GET (sales, a profile, an older page of orders),
// loaded again on refresh() or when a stream it follows says it changed.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, query } from './api';
import type { LiveReducer } from './live-state';
import { openStream } from './live-stream';

export interface Live<T> {
  readonly data: T | undefined;
  /** The last error; cleared by the next event. */
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  /** Reopens the stream (with a command's consistency token); resolves when its first event has arrived. */
  refresh(consistency?: string): Promise<void>;
}

const asApiError = (err: unknown): ApiError => (err instanceof ApiError ? err : new ApiError('Something went wrong loading this screen.', 0, 'unexpected', { cause: err }));

export function useLive<T>(stream: string | null, reducer: LiveReducer<T>): Live<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [opening, setOpening] = useState<{ consistency?: string; generation: number }>({ generation: 0 });
  const waiters = useRef<{ generation: number; resolve: () => void }[]>([]);
  const reducerRef = useRef(reducer);
  reducerRef.current = reducer;

  useEffect(() => {
    if (stream === null) {
      // Nothing to follow: a refresh asked for has nothing to wait for.
      for (const w of waiters.current.splice(0)) w.resolve();
      return undefined;
    }
    // Only this stream's events answer a refresh that asked for this stream (or an earlier one).
    const release = (): void => {
      const ready = waiters.current.filter((w) => w.generation <= opening.generation);
      waiters.current = waiters.current.filter((w) => w.generation > opening.generation);
      for (const w of ready) w.resolve();
    };
    const close = openStream(stream, { consistency: opening.consistency }, {
      onEvent(event) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(event.data);
        } catch (cause) {
          setError(new ApiError('An update could not be read; reload the page.', 0, 'bad_event', { cause }));
          return;
        }
        setData((state) => reducerRef.current(state, event.type, parsed));
        setError(undefined);
        release();
      },
      onError(err, retrying) {
        setError(err);
        if (!retrying) release();
      },
    });
    // Closed (the screen moved on, or a refresh replaces it): nobody waits for this stream any longer.
    return () => {
      close();
      release();
    };
  }, [stream, opening]);

  // A different stream starts empty.
  useEffect(() => setData(undefined), [stream]);

  const generation = useRef(0);
  const refresh = useCallback(
    (consistency?: string): Promise<void> =>
      new Promise<void>((resolve) => {
        generation.current += 1;
        waiters.current.push({ generation: generation.current, resolve });
        setOpening({ ...(consistency === undefined ? {} : { consistency }), generation: generation.current });
      }),
    [],
  );
  return { data, error, loading: stream !== null && data === undefined && error === undefined, refresh };
}

export interface Query<T> {
  readonly data: T | undefined;
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  refresh(consistency?: string): Promise<void>;
}

export function useQuery<T>(path: string | null, wakeUp?: { stream: string } | undefined): Query<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: path !== null });
  const generation = useRef(0);
  const load = useCallback(
    async (consistency?: string): Promise<void> => {
      if (path === null) return;
      const mine = ++generation.current;
      try {
        const data = await query<T>(path, { consistency });
        if (mine === generation.current) setState({ data, error: undefined, loading: false });
      } catch (err) {
        if (mine === generation.current) setState((s) => ({ ...s, error: asApiError(err), loading: false }));
      }
    },
    [path],
  );
  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: path !== null });
    void load();
  }, [load]);
  // Every event of the followed stream (its first snapshot included) is a reason to load again.
  const wakeStream = wakeUp?.stream ?? null;
  useEffect(() => {
    if (wakeStream === null || path === null) return undefined;
    let first = true;
    return openStream(wakeStream, {}, {
      onEvent() {
        if (first) first = false;
        else void load();
      },
      onError() {
        // The page itself still shows; only its liveness is lost until the stream is back.
      },
    });
  }, [wakeStream, path, load]);
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
