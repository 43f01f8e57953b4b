// A server-sent-events client for tests and benchmarks: fetch (so it can send
// Authorization and Last-Event-ID headers, as the browser's fetch-based
// clients do) plus eventsource-parser. Keeps every event it receives.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
  /** performance.now() when it arrived. */
  readonly at: number;
}

export type SseOpen =
  | { readonly ok: true; readonly stream: SseClient }
  | { readonly ok: false; readonly status: number; readonly body: Record<string, unknown> };

export class SseClient {
  readonly events: SseEvent[] = [];
  /** Comment lines received (the server's keep-alives). */
  comments = 0;
  private readonly listeners = new Set<(event: SseEvent) => void>();
  private ended = false;
  private done: Promise<void> = Promise.resolve();

  private constructor(
    private readonly abort: AbortController,
    private readonly keep: boolean,
  ) {}

  /**
   * Opens `url`; a non-200 answer comes back as its status and JSON body.
   * `keep: false` keeps no events (a load test's hundreds of subscribers look at them through `onEvent`).
   */
  static async open(url: string, headers: Record<string, string>, { keep = true }: { keep?: boolean } = {}): Promise<SseOpen> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    if (res.status !== 200 || res.body === null) {
      const text = await res.text();
      return { ok: false, status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    }
    const client = new SseClient(abort, keep);
    client.done = client.consume(res.body);
    return { ok: true, stream: client };
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Parsed JSON data of the events of a kind, in arrival order. */
  data<T>(kind?: string): T[] {
    return this.events.filter((e) => kind === undefined || e.event === kind).map((e) => JSON.parse(e.data) as T);
  }

  get lastId(): string | undefined {
    return this.events[this.events.length - 1]?.id;
  }

  /** Resolves once an event satisfies `predicate` (looking at those already received too). */
  next(predicate: (event: SseEvent) => boolean, timeoutMs = 20_000): Promise<SseEvent> {
    const seen = this.events.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no matching server-sent event within ${timeoutMs} ms (${this.events.length} received)`));
      }, timeoutMs);
      const listener = (event: SseEvent): void => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(event);
      };
      this.listeners.add(listener);
    });
  }

  onEvent(listener: (event: SseEvent) => void): void {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }

  private async consume(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = createParser({
      onEvent: (message: EventSourceMessage) => {
        const event: SseEvent = { id: message.id, event: message.event, data: message.data, at: performance.now() };
        if (this.keep) this.events.push(event);
        for (const listener of [...this.listeners]) listener(event);
      },
      onComment: () => {
        this.comments += 1;
      },
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted by close(), or the server ended the stream
    } finally {
      this.ended = true;
    }
  }
}
