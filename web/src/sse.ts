// Reading server-sent events from a fetch body: the browser's EventSource
// cannot send an Authorization header, so the UI reads the stream itself,
// parsed by eventsource-parser. This wrapper adds what a reconnecting client
// needs: the last event id (sent back as Last-Event-ID) and the server's
// `retry:` interval. Pure: no I/O.
import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseEvent {
  /** The `event:` field; `message` when absent. */
  readonly type: string;
  readonly data: string;
  /** The last `id:` seen on the stream when this event was dispatched (it persists across events). */
  readonly lastEventId: string;
}

export class SseParser {
  private readonly parser: EventSourceParser;
  private pending: SseEvent[] = [];
  private id = '';
  /** The last `retry:` the server asked for, in ms. */
  retryMs: number | undefined;

  constructor() {
    this.parser = createParser({
      onEvent: (message) => {
        if (message.id !== undefined) this.id = message.id;
        this.pending.push({ type: message.event ?? 'message', data: message.data, lastEventId: this.id });
      },
      onRetry: (ms) => {
        this.retryMs = ms;
      },
    });
  }

  /** The last event id received (to send back as Last-Event-ID). */
  get lastEventId(): string {
    return this.id;
  }

  /** Feeds text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    this.parser.feed(text);
    const events = this.pending;
    this.pending = [];
    return events;
  }
}
