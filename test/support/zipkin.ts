// Zipkin for the trace tests: brought up with the local stack's own code
// (STACK_ZIPKIN=1: the server jar from Maven Central, in-memory storage, on
// ZIPKIN_PORT), and read through Zipkin's own HTTP API.
import { randomBytes } from 'node:crypto';
import { readStackSettings } from '../../infra/stack/settings';
import { up } from '../../infra/stack/stack';

export interface ZipkinSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId?: string;
  readonly name?: string;
  readonly kind?: string;
  /** Microseconds since the epoch. */
  readonly timestamp?: number;
  readonly duration?: number;
  readonly localEndpoint?: { readonly serviceName?: string };
  readonly tags?: Readonly<Record<string, string>>;
}

/** Starts Zipkin if it is not running (idempotent, like stack:up); returns its base URL. */
export async function ensureZipkin(): Promise<string> {
  const settings = readStackSettings({ ...process.env, STACK_ZIPKIN: '1' });
  const rows = await up(settings, () => undefined);
  const zipkin = rows.find((r) => r.kind === 'zipkin');
  if (zipkin === undefined) throw new Error('the stack did not start Zipkin');
  return zipkin.address;
}

/** One trace as Zipkin has it now (empty while none of its spans has arrived). */
export async function zipkinTrace(base: string, traceId: string): Promise<ZipkinSpan[]> {
  const res = await fetch(`${base}/api/v2/trace/${traceId}`, { signal: AbortSignal.timeout(10_000) });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`Zipkin answered ${res.status} for trace ${traceId}: ${await res.text()}`);
  return (await res.json()) as ZipkinSpan[];
}

/** Posts spans to Zipkin's intake (the test client's own span, the root of its trace). */
export async function postSpans(base: string, spans: readonly ZipkinSpan[]): Promise<void> {
  const res = await fetch(`${base}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spans), signal: AbortSignal.timeout(10_000) });
  if (res.status !== 202) throw new Error(`Zipkin refused the spans: ${res.status} ${await res.text()}`);
}

/** A client-side trace: its id, and a `traceparent` for each request, all children of one root span. */
export function clientTrace(): { readonly traceId: string; readonly rootId: string; readonly traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const rootId = randomBytes(8).toString('hex');
  return { traceId, rootId, traceparent: `00-${traceId}-${rootId}-01` };
}

/** The names from a span up to the trace's root, following parentId: the causal chain that led to it. */
export function ancestry(spans: readonly ZipkinSpan[], span: ZipkinSpan): string[] {
  const byId = new Map(spans.map((s) => [s.id, s]));
  const chain: string[] = [];
  let at: ZipkinSpan | undefined = span;
  for (let hops = 0; at !== undefined && hops < 100; hops += 1) {
    chain.push(at.name ?? '');
    at = at.parentId === undefined ? undefined : byId.get(at.parentId);
  }
  return chain;
}
