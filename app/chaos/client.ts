// The chaos run's HTTP client, as a real client behind a load balancer: every
// command carries an Idempotency-Key, and a 503, a 202 (pending) or a failed
// connection is retried with the SAME request (same key, same body) on the next
// gateway, with a growing pause, until a decided answer or the give-up time.
// Every command's final answer goes into the ledger the verifier checks.
import type { Actor, HeadersFor } from '../../demo/client';

export interface LedgerEntry {
  readonly key: string;
  /** The route's template, e.g. POST /orders/:id/place. */
  readonly route: string;
  readonly subject: string;
  /** The final answer: an HTTP status, or 0 when no attempt got one before the give-up time. */
  readonly status: number;
  readonly attempts: number;
  /** What made each retried attempt retry: "503", "202", "connection". */
  readonly retriedOn: readonly string[];
  /** From a decided answer's body (2xx, or a 4xx refusal of the processor). */
  readonly commandId?: string;
  readonly aggregateId?: string;
  readonly events?: readonly ReplyEvent[];
  readonly errorCode?: string;
  readonly sentAt: number;
  readonly answeredAt: number;
}

export interface ReplyEvent {
  readonly eventType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface CommandAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface ChaosClientOptions {
  /** Gateways to spread commands over; attempt n of a request goes to gateway (start + n) mod count. */
  readonly gateways: () => readonly string[];
  readonly queries: () => readonly string[];
  readonly headersFor: HeadersFor;
  /** How long one request is retried before it is given up (default 90 s: longer than any fault lasts). */
  readonly giveUpMs?: number;
  /** Client-side deadline of one attempt (default 15 s). */
  readonly attemptTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export class ChaosClient {
  readonly ledger: LedgerEntry[] = [];
  private spread = 0;

  constructor(private readonly options: ChaosClientOptions) {}

  /** POSTs a command until it is decided (or given up), and records the final answer. */
  async command(actor: Actor, route: string, path: string, body: unknown, key: string, how: { readonly gateway?: string; readonly pauseMs?: number; readonly giveUpMs?: number } = {}): Promise<CommandAnswer> {
    const headers: Record<string, string> = { ...(await this.options.headersFor(actor)), 'idempotency-key': key };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const sentAt = Date.now();
    const giveUpAt = sentAt + (how.giveUpMs ?? this.options.giveUpMs ?? 90_000);
    const start = (this.spread += 1);
    const retriedOn: string[] = [];
    let answer: CommandAnswer = { status: 0, body: {} };
    for (let attempt = 0; ; attempt += 1) {
      const gateways = this.options.gateways();
      const gateway = how.gateway ?? (gateways[(start + attempt) % gateways.length] as string);
      answer = await this.send('POST', `${gateway}${path}`, headers, body);
      const retryable = answer.status === 0 || answer.status === 503 || answer.status === 202;
      if (!retryable || Date.now() >= giveUpAt) break;
      retriedOn.push(answer.status === 0 ? 'connection' : String(answer.status));
      await sleep(how.pauseMs ?? Math.min(2000, 200 * 2 ** Math.min(attempt, 4)));
    }
    const error = answer.body.error;
    const errorCode = typeof error === 'object' && error !== null ? str((error as { code?: unknown }).code) : undefined;
    const events = Array.isArray(answer.body.events) ? (answer.body.events as ReplyEvent[]) : undefined;
    this.ledger.push({
      key,
      route,
      subject: actor.role === 'customer' ? actor.sub : actor.role,
      status: answer.status,
      attempts: retriedOn.length + 1,
      retriedOn,
      ...(str(answer.body.commandId) === undefined ? {} : { commandId: str(answer.body.commandId) }),
      ...(str(answer.body.aggregateId) === undefined ? {} : { aggregateId: str(answer.body.aggregateId) }),
      ...(events === undefined ? {} : { events }),
      ...(errorCode === undefined ? {} : { errorCode }),
      sentAt,
      answeredAt: Date.now(),
    });
    return answer;
  }

  /** A read from any query API (not retried: the load reads again later anyway). */
  async query(actor: Actor, path: string): Promise<CommandAnswer> {
    const queries = this.options.queries();
    const url = `${queries[(this.spread += 1) % queries.length] as string}${path}`;
    return this.send('GET', url, await this.options.headersFor(actor));
  }

  private async send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<CommandAnswer> {
    try {
      const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.options.attemptTimeoutMs ?? 15_000) });
      const text = await res.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        parsed = { raw: text };
      }
      return { status: res.status, body: parsed };
    } catch {
      return { status: 0, body: {} };
    }
  }
}
