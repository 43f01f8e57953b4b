// One server-sent-events response (docs/live-updates.md, "Event format").
//
// Writes only while the socket takes data: once `res.write` says its buffer
// is full the stream is `paused` until the socket drains, and its producer
// waits instead of queueing (the producer knows how to catch up: a cursor
// into a feed, or the latest document). So a slow client costs at most one
// socket buffer and one event beyond it, never a queue that grows.
import type { Response } from 'express';

export const RETRY_MS = 2_000;

export class SseStream {
  private paused = false;
  private ended = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly drainListeners = new Set<() => void>();
  private readonly closeListeners = new Set<() => void>();

  constructor(
    private readonly res: Response,
    heartbeatMs: number,
  ) {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    this.write(`retry: ${RETRY_MS}\n\n`);
    this.heartbeat = setInterval(() => {
      // A paused stream has data waiting already; a comment would only add to it.
      if (!this.paused) this.write(': keep-alive\n\n');
    }, heartbeatMs);
    this.heartbeat.unref();
    res.on('drain', () => {
      this.paused = false;
      for (const listener of [...this.drainListeners]) listener();
    });
    res.on('close', () => this.finish());
  }

  /** True while the client is connected and its socket takes more data. */
  get writable(): boolean {
    return !this.paused && !this.ended;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** One event; `data` is one line of JSON. */
  send(id: string, event: 'snapshot' | 'change', data: string): void {
    this.write(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`);
  }

  onDrain(listener: () => void): void {
    this.drainListeners.add(listener);
  }

  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.add(listener);
  }

  /** Ends the stream from the server's side (shutdown, a model being rebuilt); the client reconnects. */
  end(): void {
    if (this.ended) return;
    this.res.end();
    this.finish();
  }

  private write(chunk: string): void {
    if (this.ended) return;
    if (!this.res.write(chunk)) this.paused = true;
  }

  private finish(): void {
    if (this.ended && this.closeListeners.size === 0) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    this.drainListeners.clear();
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener();
  }
}
