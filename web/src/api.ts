// Talking to the restaurant through the web role's same-origin proxy:
// commands to /api/gateway, queries to /api/query, every request with the
// session's bearer token. Errors become `ApiError`s whose message a person can
// read; a 409 (the screen was stale: the decider refused) is marked so the
// screen can say so and refresh.
import { currentSession, signOut } from './session';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  /** The command was refused by the current state: what the screen showed is out of date. */
  get stale(): boolean {
    return this.status === 409;
  }
}

export interface CommandReply {
  readonly commandId: string;
  readonly aggregateId: string;
  readonly aggregateVersion?: number;
  /** Passed to the next query so it shows at least what this command did. */
  readonly consistencyToken?: string;
}

interface ErrorBody {
  readonly error?: { readonly code?: string; readonly message?: string; readonly fields?: readonly { readonly path?: string; readonly message?: string }[] };
}

const READABLE: Record<number, string> = {
  401: 'Your sign-in has expired. Please sign in again.',
  403: 'Your role may not do that.',
  429: 'Too many requests; wait a moment and try again.',
  502: 'The restaurant cannot be reached right now; try again shortly.',
  503: 'The restaurant is busy catching up; try again shortly.',
};

/** The ApiError a failed answer stands for (a 401 also signs the tab out). */
export async function errorOf(res: Response): Promise<ApiError> {
  let body: ErrorBody = {};
  try {
    body = (await res.json()) as ErrorBody;
  } catch {
    // not JSON: fall back to the status
  }
  const code = body.error?.code ?? `http_${res.status}`;
  const fields = (body.error?.fields ?? []).map((f) => `${f.path ?? ''} ${f.message ?? ''}`.trim()).filter((f) => f !== '');
  const detail = body.error?.message ?? READABLE[res.status] ?? `The request failed (${res.status}).`;
  const message = res.status === 409 ? `That could not be done any more: ${detail}. The screen has been refreshed.` : fields.length > 0 ? `${detail}: ${fields.join('; ')}` : detail;
  if (res.status === 401) signOut();
  return new ApiError(message, res.status, code);
}

/** The session's Authorization header (none when signed out). */
export function authHeaders(): Record<string, string> {
  const session = currentSession();
  return session === null ? {} : { authorization: `Bearer ${session.token}` };
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { accept: 'application/json', ...authHeaders(), ...extra };
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (cause) {
    throw new ApiError('The restaurant cannot be reached; check your connection and try again.', 0, 'network', { cause });
  }
}

/** GET from the query API; `consistency` makes it wait until the read model has a command's effect. */
export async function query<T>(path: string, options: { consistency?: string | undefined; signal?: AbortSignal } = {}): Promise<T> {
  const extra: Record<string, string> = options.consistency === undefined ? {} : { 'x-consistency-token': options.consistency };
  for (let attempt = 0; ; attempt += 1) {
    const res = await send(`/api/query${path}`, { headers: headers(extra), ...(options.signal === undefined ? {} : { signal: options.signal }) });
    if (res.ok) return (await res.json()) as T;
    // A read model still catching up answers 503 with Retry-After: wait and ask again, a few times.
    if (res.status === 503 && attempt < 4) {
      await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
      continue;
    }
    throw await errorOf(res);
  }
}

/** POST one command to the gateway. Safe to retry: it carries an Idempotency-Key. */
export async function command(path: string, body: unknown = {}): Promise<CommandReply> {
  const res = await send(`/api/gateway${path}`, {
    method: 'POST',
    headers: headers({ 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() }),
    body: JSON.stringify(body),
  });
  if (res.status === 202) throw new ApiError('The restaurant is taking longer than usual; your request is queued and the screen will update when it is done.', 202, 'pending');
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as CommandReply;
}

/** An id segment for a URL path. */
export const seg = (id: string): string => encodeURIComponent(id);
