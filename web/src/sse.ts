// A server-sent-events parser (the WHATWG event-stream format), fed with
// decoded text as it arrives from a fetch body: the browser's EventSource
// cannot send an Authorization header, so the UI reads the stream itself.
// Pure: no I/O.

export interface SseEvent {
  /** The `event:` field; `message` when absent. */
  readonly type: string;
  readonly data: string;
  /** The last `id:` seen on the stream when this event was dispatched (it persists across events). */
  readonly lastEventId: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private type = '';
  private id = '';
  /** The last `retry:` the server asked for, in ms. */
  retryMs: number | undefined;

  /** The last event id received (to send back as Last-Event-ID). */
  get lastEventId(): string {
    return this.id;
  }

  /** Feeds text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      const dispatch = this.data.length > 0 ? { type: this.type || 'message', data: this.data.join('\n'), lastEventId: this.id } : undefined;
      this.data = [];
      this.type = '';
      return dispatch;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }
}
