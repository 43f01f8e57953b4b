// Every HTTP call the demo makes goes through here: the gateway's commands and
// the query API's reads, each on behalf of an actor (a customer, the kitchen,
// a courier, the manager). The `headersFor` option is the one place that
// decides what a request carries for its actor: the demo's CLI gives it a
// bearer token per actor (tokens.ts).

export type Actor =
  | { readonly role: 'customer'; readonly sub: string } // a customer acts as itself: sub is its customer id, also when signing up
  | { readonly role: 'kitchen' }
  | { readonly role: 'courier' }
  | { readonly role: 'manager' }
  | { readonly role: 'admin' };

export type HeadersFor = (actor: Actor) => Record<string, string> | Promise<Record<string, string>>;

/** No credentials: for a stack that runs without authentication (AUTH_DISABLED=true). */
export const noCredentials: HeadersFor = () => ({});

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A documented error body's code (`{ error: { code } }`), if the reply has one. */
export function errorCode(reply: Reply): string | undefined {
  const error = reply.body.error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly reply?: Reply,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

export interface DemoClientOptions {
  readonly gatewayUrl: string;
  readonly queryUrl: string;
  readonly headersFor?: HeadersFor;
  readonly timeoutMs?: number;
}

export class DemoClient {
  private readonly headers: HeadersFor;
  private readonly timeoutMs: number;

  constructor(private readonly options: DemoClientOptions) {
    this.headers = options.headersFor ?? noCredentials;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** A command: POST to the gateway. */
  command(actor: Actor, path: string, body?: unknown, idempotencyKey?: string): Promise<Reply> {
    return this.request(actor, 'POST', `${this.options.gatewayUrl}${path}`, body, idempotencyKey);
  }

  /** A read: GET from the query API. */
  query(actor: Actor, path: string): Promise<Reply> {
    return this.request(actor, 'GET', `${this.options.queryUrl}${path}`);
  }

  private async request(actor: Actor, method: 'GET' | 'POST', url: string, body?: unknown, idempotencyKey?: string): Promise<Reply> {
    const headers: Record<string, string> = { ...(await this.headers(actor)) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw new HttpError(`${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error });
    }
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      parsed = { raw: text };
    }
    return { status: res.status, body: parsed };
  }
}
