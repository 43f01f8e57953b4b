// `npm run demo` options: flags, or the same in the environment.
import { parseArgs } from 'node:util';

export interface DemoOptions {
  readonly seed: string;
  /** Orders opened per minute, on average. */
  readonly ordersPerMinute: number;
  readonly customers: number;
  /** Stop after this long (ms); undefined: until Ctrl-C. */
  readonly durationMs: number | undefined;
  readonly gatewayUrl: string;
  readonly queryUrl: string;
}

export const DEMO_USAGE = `npm run demo -- [--rate <orders/min>] [--seed <text>] [--duration <30s|10m|1h>] [--customers <n>] [--gateway <url>] [--query <url>]

  --rate       orders opened per minute, on average (DEMO_RATE, default 60)
  --seed       names one day of traffic: the same seed, the same customers and orders (DEMO_SEED, default "restaurant")
  --duration   stop by itself after this long (DEMO_DURATION, default: until Ctrl-C)
  --customers  how many customers sign up (DEMO_CUSTOMERS, default 40)
  --gateway    the HTTP gateway (DEMO_GATEWAY_URL, default http://127.0.0.1:$PORT, PORT default 3000)
  --query      the query API (DEMO_QUERY_URL, default http://127.0.0.1:$QUERY_PORT, QUERY_PORT default 3001)`;

export class DemoUsageError extends Error {
  override readonly name = 'DemoUsageError';
}

/** "90", "90s", "10m", "1h" -> ms. */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (match === null) throw new DemoUsageError(`duration ${JSON.stringify(raw)} is not like 30s, 10m or 1h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(match[1]) * unit);
  if (ms <= 0) throw new DemoUsageError(`duration ${JSON.stringify(raw)} must be above 0`);
  return ms;
}

function positive(name: string, raw: string, max: number, whole: boolean): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max || (whole && !Number.isInteger(value))) throw new DemoUsageError(`${name} ${JSON.stringify(raw)} must be a ${whole ? 'whole ' : ''}number above 0 and at most ${max}`);
  return value;
}

export function parseDemoOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): DemoOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { rate: { type: 'string' }, seed: { type: 'string' }, duration: { type: 'string' }, customers: { type: 'string' }, gateway: { type: 'string' }, query: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | undefined> });
  } catch (error) {
    throw new DemoUsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const pick = (flag: string, variable: string): string | undefined => values[flag] ?? (env[variable] === '' ? undefined : env[variable]);
  const rate = pick('rate', 'DEMO_RATE');
  const customers = pick('customers', 'DEMO_CUSTOMERS');
  const duration = pick('duration', 'DEMO_DURATION');
  return {
    seed: pick('seed', 'DEMO_SEED') ?? 'restaurant',
    ordersPerMinute: rate === undefined ? 60 : positive('--rate', rate, 60_000, false),
    customers: customers === undefined ? 40 : positive('--customers', customers, 10_000, true),
    durationMs: duration === undefined ? undefined : parseDuration(duration),
    gatewayUrl: pick('gateway', 'DEMO_GATEWAY_URL') ?? `http://127.0.0.1:${env.PORT ?? '3000'}`,
    queryUrl: pick('query', 'DEMO_QUERY_URL') ?? `http://127.0.0.1:${env.QUERY_PORT ?? '3001'}`,
  };
}
