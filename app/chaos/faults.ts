// Injecting one planned fault, recovering from it, and measuring the recovery:
// from the moment the thing that failed is back (the role restarted, the broker
// or Redis started, the proxies open again) until every instance says ready
// and a probe command through every gateway is decided (2xx).
import type { ChaosClient } from './client';
import type { ReplicaFigures } from './replica-view';
import type { PlannedFault } from './schedule';
import type { ChaosSystem, Instance } from './system';

export interface FaultTimings {
  /** How long the broker stays down on broker-restart (default 5 s). */
  readonly brokerDownMs: number;
  /** How long the registry stays away on registry-down (default 30 s). */
  readonly registryDownMs: number;
  /** How long one instance's network stays cut (default 15 s). */
  readonly networkCutMs: number;
  /** The longest wait for a recovery before it is reported as not recovered (default 180 s). */
  readonly recoveryLimitMs: number;
}

export const DEFAULT_TIMINGS: FaultTimings = { brokerDownMs: 5_000, registryDownMs: 30_000, networkCutMs: 15_000, recoveryLimitMs: 180_000 };

export interface FaultResult {
  readonly kind: string;
  readonly target?: string;
  /** Epoch ms the fault was injected and the failed part was back. */
  readonly injectedAt: number;
  readonly backAt: number;
  /** From backAt until every instance said ready; undefined: not within the limit. */
  readonly readyAfterMs?: number;
  /** From backAt until a probe through every gateway was decided 2xx; undefined: not within the limit. */
  readonly serving2xxAfterMs?: number;
  /** Per instance of a rolling restart: ms from its start until ready. */
  readonly restartsMs?: Record<string, number>;
  readonly note?: string;
  /** When not every instance was ready within the limit: what the ones that were not said on /readyz. */
  readonly notReadyAtLimit?: Record<string, readonly string[]>;
  /** What the instances last said on /readyz before all were ready (each instance's last reasons; what held the recovery up). */
  readonly lastNotReady?: Record<string, readonly string[]>;
  /** A cluster node's kill: its partitions' in-sync replicas at the kill, and the partitions left without a leader (replica-view.ts). */
  readonly replicas?: ReplicaFigures;
  /** From the clients' ledger (report.ts): commands answered 2xx between the injection and backAt. */
  readonly accepted2xxWhileOut?: number;
  /** From the clients' ledger: the longest stretch with no command answered 2xx, from the injection until the recovery was measured. */
  readonly longestNo2xxMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
let probes = 0;

export class FaultInjector {
  constructor(
    private readonly system: ChaosSystem,
    private readonly client: ChaosClient,
    private readonly runTag: string,
    private readonly timings: FaultTimings = DEFAULT_TIMINGS,
    private readonly say: (line: string) => void = () => undefined,
  ) {}

  private instance(name: string | undefined): Instance {
    const found = this.system.instances.find((i) => i.name === name);
    if (found === undefined) throw new Error(`no instance ${String(name)}`);
    return found;
  }

  /** ms from `from` until every one of `instances` is ready, or what the ones that are not say at the limit. */
  private async waitReady(
    instances: readonly Instance[],
    from: number,
  ): Promise<({ readonly ms: number } | { readonly notReady: Record<string, readonly string[]> }) & { readonly last: Record<string, readonly string[]> }> {
    const limit = from + this.timings.recoveryLimitMs;
    const last: Record<string, readonly string[]> = {};
    for (;;) {
      const reasons = await Promise.all(instances.map(async (i) => [i.name, await this.system.readiness(i)] as const));
      const notReady = reasons.filter(([, r]) => r.length > 0);
      for (const [name, r] of notReady) last[name] = r;
      if (notReady.length === 0) return { ms: Date.now() - from, last };
      if (Date.now() > limit) return { notReady: Object.fromEntries(notReady), last };
      await sleep(100);
    }
  }

  /** A new menu item through each gateway, the same request repeated every 250 ms until decided: ms from `from` until every one got a 2xx. */
  private async waitServing(from: number): Promise<number | undefined> {
    const limit = this.timings.recoveryLimitMs;
    const answers = await Promise.all(
      this.system.gatewayUrls().map(async (gateway) => {
        probes += 1;
        const body = { name: `Probe dish ${probes}`, description: 'added by the chaos run to see the command side serve', category: 'SIDE', price: { amountMinor: 100, currency: 'EUR' } };
        const client = this.client;
        const reply = await client.command({ role: 'manager' }, 'POST /menu/items (probe)', '/menu/items', body, `chaos-${this.runTag}-probe-${probes}`, { gateway, pauseMs: 250, giveUpMs: limit });
        return reply.status >= 200 && reply.status < 300 ? Date.now() - from : undefined;
      }),
    );
    return answers.some((a) => a === undefined) ? undefined : Math.max(...(answers as number[]));
  }

  private async recovered(base: Omit<FaultResult, 'readyAfterMs' | 'serving2xxAfterMs'>): Promise<FaultResult> {
    const [ready, serving2xxAfterMs] = await Promise.all([this.waitReady(this.system.instances, base.backAt), this.waitServing(base.backAt)]);
    return {
      ...base,
      ...('ms' in ready ? { readyAfterMs: ready.ms } : { notReadyAtLimit: ready.notReady }),
      ...(Object.keys(ready.last).length === 0 ? {} : { lastNotReady: ready.last }),
      ...(serving2xxAfterMs === undefined ? {} : { serving2xxAfterMs }),
    };
  }

  async inject(fault: PlannedFault): Promise<FaultResult> {
    const injectedAt = Date.now();
    const { kind, target } = fault;
    this.say(`fault: ${kind}${target === undefined ? '' : ` ${target}`}`);
    switch (kind) {
      case 'kill-role': {
        const instance = this.instance(target);
        await instance.process?.kill();
        await sleep(1000);
        const backAt = Date.now();
        await this.system.launch(instance, false);
        return this.recovered({ kind, target: instance.name, injectedAt, backAt });
      }
      case 'broker-restart':
      case 'leader-kill':
      case 'controller-loss': {
        const which = kind === 'leader-kill' ? 'busiest-leader' : kind === 'controller-loss' ? 'controller' : 'any';
        const { node, replicas } = await this.system.broker.killAndRestart(which, this.timings.brokerDownMs);
        return this.recovered({ kind, target: node, injectedAt, backAt: Date.now(), ...(replicas === undefined ? {} : { replicas }) });
      }
      case 'redis-restart': {
        await this.system.redis.restart();
        return this.recovered({ kind, injectedAt, backAt: Date.now(), note: 'every key lost: read models, checkpoints' });
      }
      case 'registry-down': {
        await Promise.all(this.system.instances.map((i) => i.registryProxy.close()));
        await sleep(this.timings.registryDownMs);
        await Promise.all(this.system.instances.map((i) => i.registryProxy.open()));
        return this.recovered({ kind, injectedAt, backAt: Date.now() });
      }
      case 'network-cut': {
        const instance = this.instance(target);
        await Promise.all([instance.registryProxy.close(), instance.redisProxy.close()]);
        await sleep(this.timings.networkCutMs);
        await Promise.all([instance.registryProxy.open(), instance.redisProxy.open()]);
        return this.recovered({ kind, target: instance.name, injectedAt, backAt: Date.now(), note: 'its connections to Redis and the schema registry dropped and refused (Kafka connects to advertised addresses, not through a proxy)' });
      }
      case 'rolling-restart': {
        const restartsMs: Record<string, number> = {};
        for (const instance of this.system.instances) {
          const started = Date.now();
          await instance.process?.stop(20_000);
          await this.system.launch(instance, false);
          const ready = await this.waitReady([instance], started);
          restartsMs[instance.name] = 'ms' in ready ? ready.ms : -1;
        }
        return this.recovered({ kind, injectedAt, backAt: Date.now(), restartsMs });
      }
    }
  }
}
