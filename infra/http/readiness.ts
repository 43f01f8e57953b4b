// What /readyz on the operations port says (docs/recovery.md): ready once every
// role of the process has started, and only while each can do its work now:
// Kafka answers (for roles that use it), each consumer has its assignment,
// Redis is connected (for roles that use it). It becomes ready again by itself.
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../logging';

export interface ReadinessCheck {
  /** Undefined when ready; else why not, for the /readyz body and the log. */
  notReady(): string | undefined;
  /** Why the role can never work again without a restart (/healthz then says 503); undefined while it can. */
  broken?(): string | undefined;
}

/** The reasons a process should be restarted: checks that are broken for good. */
export function brokenOf(checks: readonly ReadinessCheck[]): string[] {
  return checks.flatMap((c) => c.broken?.() ?? []);
}

export interface ReadinessState {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/**
 * Asks the broker for its metadata every `everyMs`, with a client of its own
 * that does not retry (not even connecting: kafkajs's cluster connect follows
 * the client's retry settings, not the admin's): Kafka counts as reachable
 * while the last answer is younger than `staleMs` and the last attempt did not
 * fail.
 */
export class KafkaProbe implements ReadinessCheck {
  private admin: Admin;
  private timer: NodeJS.Timeout | undefined;
  private lastOk = 0;
  private failure: string | undefined = 'Kafka: not asked yet';
  private inFlight = false;

  constructor(
    kafka: Kafka,
    private readonly log: Logger,
    private readonly everyMs = 1000,
    private readonly staleMs = 3000,
  ) {
    this.admin = kafka.admin();
  }

  /** One probe now; resolves true when Kafka answered. */
  async check(): Promise<boolean> {
    if (this.inFlight) return this.notReady() === undefined;
    this.inFlight = true;
    try {
      await this.admin.connect();
      await this.admin.describeCluster();
      if (this.failure !== undefined && this.lastOk > 0) this.log.info('Kafka answers again');
      this.lastOk = Date.now();
      this.failure = undefined;
      return true;
    } catch (error) {
      if (this.failure === undefined) this.log.warn({ err: error }, 'Kafka does not answer: not ready until it does');
      this.failure = `Kafka: ${(error as Error).message}`;
      // A failed connection can leave the admin half-open: start from a fresh one.
      await this.admin.disconnect().catch(() => undefined);
      return false;
    } finally {
      this.inFlight = false;
    }
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.admin.disconnect().catch(() => undefined);
  }

  /** True when the last attempt failed outright (refused, reset, timed out): writing now would only wait for the same. */
  unreachable(): boolean {
    return this.failure !== undefined && this.lastOk > 0;
  }

  notReady(): string | undefined {
    if (this.failure !== undefined) return this.failure;
    return Date.now() - this.lastOk > this.staleMs ? `Kafka: no answer for ${Math.round((Date.now() - this.lastOk) / 1000)} s` : undefined;
  }
}

/** Redis (ioredis) counts as reachable while its connection is established. */
export function redisReadiness(name: string, redis: { readonly status: string }): ReadinessCheck {
  return { notReady: () => (redis.status === 'ready' ? undefined : `${name}: Redis connection ${redis.status}`) };
}

export function readinessOf(started: boolean, stopping: boolean, checks: readonly ReadinessCheck[]): ReadinessState {
  if (stopping) return { ready: false, reasons: ['stopping'] };
  if (!started) return { ready: false, reasons: ['starting', ...checks.flatMap((c) => c.notReady() ?? [])] };
  const reasons = checks.flatMap((c) => c.notReady() ?? []);
  return { ready: reasons.length === 0, reasons };
}
