// One live stream from the query API (docs/live-updates.md): a fetch to
// /api/query/live/... with the bearer token, read as server-sent events. It
// reconnects by itself after the connection drops, sending the last event id
// as Last-Event-ID so it gets exactly what it missed; it stops for good on an
// answer that retrying cannot change (401, 403, 404, 400).
import { ApiError, errorOf, authHeaders } from './api';
import { SseParser, type SseEvent } from './sse';

export interface StreamHandlers {
  onEvent(event: SseEvent): void;
  /** A failed connection; `retrying` says whether another attempt follows. */
  onError(error: ApiError, retrying: boolean): void;
}

const DEFAULT_RETRY_MS = 2000;

const wait = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Opens `/api/query<path>` as a live stream; returns a function that closes it. */
export function openStream(path: string, options: { consistency?: string | undefined }, handlers: StreamHandlers): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const parser = new SseParser();
  void (async () => {
    let consistency = options.consistency;
    while (!signal.aborted) {
      let retryMs = parser.retryMs ?? DEFAULT_RETRY_MS;
      try {
        const headers: Record<string, string> = { ...authHeaders(), accept: 'text/event-stream' };
        if (parser.lastEventId !== '') headers['last-event-id'] = parser.lastEventId;
        if (consistency !== undefined) headers['x-consistency-token'] = consistency;
        const res = await fetch(`/api/query${path}`, { headers, signal, cache: 'no-store' });
        if (!res.ok || res.body === null) {
          const error = await errorOf(res);
          const retrying = res.status === 503 || res.status === 502 || res.status === 429;
          handlers.onError(error, retrying);
          if (!retrying) return;
          retryMs = Math.max(retryMs, 1000 * Number(res.headers.get('retry-after') ?? '1'));
        } else {
          // Once connected, the consistency token has done its job: a reconnect resumes by event id instead.
          consistency = undefined;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            for (const event of parser.push(value)) handlers.onEvent(event);
          }
        }
      } catch (cause) {
        if (signal.aborted) return;
        handlers.onError(new ApiError('The live connection dropped; reconnecting…', 0, 'network', { cause }), true);
      }
      await wait(retryMs, signal);
    }
  })();
  return () => controller.abort();
}
