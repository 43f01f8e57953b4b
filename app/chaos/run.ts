// One chaos run: start the system, open the restaurant, run the load while the
// planned faults hit one after another (each recovered and measured), stop the
// load, wait for quiet, verify, report. Everything it starts it stops.
import Redis from 'ioredis';
import { READ_MODELS, type ReadModelName } from '../../consumers/projections/shared/keys';
import { localTokens } from '../../demo/tokens';
import { ChaosClient } from './client';
import { DEFAULT_TIMINGS, FaultInjector, type FaultResult, type FaultTimings } from './faults';
import { ChaosLoad } from './load';
import { deadLetters, eventsTopics, readEventLog, type LoggedEvent } from './log-reader';
import { differingKeys, foldedModels, modelBehind, storedModel } from './read-models';
import { clientFigures, withClientView, type ChaosReport } from './report';
import { faultKindsFor, planFaults, type FaultKind } from './schedule';
import { ChaosSystem, type Layout } from './system';
import { verdictProblems, verify } from './verify';
import { ordersOf, readOrderTrails } from './trail';

export interface ChaosOptions {
  readonly seed: string;
  readonly durationMs: number;
  readonly faults: number;
  readonly layout: Layout;
  /** One broker (default), or a three-node cluster this far above the caller's ports. */
  readonly cluster?: { readonly portOffset: number };
  readonly kinds?: readonly FaultKind[];
  readonly ordersPerMinute: number;
  readonly timings?: Partial<FaultTimings>;
  /** Longest wait for quiet (the log still, every read model caught up) after the load (default 5 min). */
  readonly quietLimitMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until no events topic grows for `stillMs`: the process managers and the simulator have nothing left to do. */
async function waitForStillLog(system: ChaosSystem, stillMs: number, limitMs: number): Promise<void> {
  const admin = system.broker.kafka('chaos.quiet').admin();
  await admin.connect();
  try {
    const deadline = Date.now() + limitMs;
    let last = '';
    let since = Date.now();
    while (Date.now() < deadline) {
      const ends = await Promise.all(eventsTopics().map(async (t) => (await admin.fetchTopicOffsets(t)).map((o) => o.high).join(',')));
      const now = ends.join('|');
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since >= stillMs) return;
      await sleep(1000);
    }
  } finally {
    await admin.disconnect();
  }
}

async function compareReadModels(
  redis: Redis,
  keyspace: string,
  events: readonly LoggedEvent[],
  limitMs: number,
): Promise<{ divergent: Record<string, string[]>; notCaughtUp: Record<string, string[]> }> {
  const deadline = Date.now() + limitMs;
  const notCaughtUp: Record<string, string[]> = {};
  for (const model of READ_MODELS) {
    for (;;) {
      const behind = await modelBehind(redis, keyspace, model, events);
      if (behind.length === 0) break;
      if (Date.now() > deadline) {
        notCaughtUp[model] = behind;
        break;
      }
      await sleep(250);
    }
  }
  const expected = foldedModels(events, keyspace);
  const divergent: Record<string, string[]> = {};
  for (const model of READ_MODELS as readonly ReadModelName[]) {
    const keys = differingKeys(expected[model], await storedModel(redis, keyspace, model));
    if (keys.length > 0) divergent[model] = keys;
  }
  return { divergent, notCaughtUp };
}

export async function runChaos(options: ChaosOptions, say: (line: string) => void = console.log): Promise<ChaosReport> {
  const startedAt = new Date();
  const runTag = `${options.seed}-${startedAt.getTime().toString(36)}`;
  const keyspace = 'chaos';
  const timings = { ...DEFAULT_TIMINGS, ...options.timings };
  const system = await ChaosSystem.start(
    {
      layout: options.layout,
      keyspace,
      kafka: options.cluster === undefined ? { kind: 'single' } : { kind: 'cluster', portOffset: options.cluster.portOffset },
      // Every payment is answered (none stalls for the 5 min timeout), so every placed order can end within the run.
      env: { PAYMENT_SIMULATOR_SEED: options.seed, PAYMENT_SIMULATOR_STALL_SHARE: '0' },
    },
    say,
  );
  const redis = new Redis(system.redis.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  // The verifier's own connection sees the redis-restart faults too; it reconnects, and is only used at the end.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const client = new ChaosClient({ gateways: () => system.gatewayUrls(), queries: () => system.queryUrls(), headersFor: localTokens() });
    const load = new ChaosLoad(client, { seed: options.seed, ordersPerMinute: options.ordersPerMinute, customers: 12, menuItems: 8 });
    say('opening the restaurant: menu and customers');
    await load.open();
    const plan = planFaults({ seed: options.seed, faults: options.faults, durationMs: options.durationMs, instances: system.instances.map((i) => i.name), kinds: options.kinds ?? faultKindsFor(system.broker.kind) });
    const injector = new FaultInjector(system, client, runTag, timings, say);
    const loadStart = Date.now();
    say(`load for ${options.durationMs / 1000} s, ${plan.length} fault(s)`);
    load.start();
    const results: FaultResult[] = [];
    for (const fault of plan) {
      await sleep(loadStart + fault.atMs - Date.now());
      const result = await injector.inject(fault);
      say(`  back after ${((result.backAt - result.injectedAt) / 1000).toFixed(1)} s; ready ${result.readyAfterMs ?? 'never'} ms, 2xx ${result.serving2xxAfterMs ?? 'never'} ms later`);
      results.push(result);
    }
    await sleep(loadStart + options.durationMs - Date.now());
    // The load runs for the duration, and on until the last fault has recovered.
    say('stopping the load; waiting for quiet');
    await load.stop();
    const quietLimit = options.quietLimitMs ?? 300_000;
    await waitForStillLog(system, 10_000, quietLimit);
    say('reading the log back');
    const events = await readEventLog(system.broker.kafka('chaos.verify'), system.broker.registryUrl);
    const verdict = verify(client.ledger, events);
    const { divergent, notCaughtUp } = await compareReadModels(redis, keyspace, events, quietLimit);
    const dlq = await deadLetters(system.broker.kafka('chaos.dlq'));
    // Where each order without an outcome stopped: its commands, their replies, the two states (trail.ts).
    const trails = await readOrderTrails(system.broker.kafka('chaos.trail'), system.broker.registryUrl, ordersOf(verdict.fulfilment), events).catch(
      (error: unknown): Record<string, readonly string[]> => Object.fromEntries(ordersOf(verdict.fulfilment).map((id) => [id, [`trail not read: ${String(error)}`]])),
    );
    const exited = system.exited();
    const recoveredAll = results.every((r) => r.readyAfterMs !== undefined && r.serving2xxAfterMs !== undefined);
    const passed = verdictProblems(verdict) === 0 && Object.keys(divergent).length === 0 && Object.keys(notCaughtUp).length === 0 && Object.keys(dlq).length === 0 && exited.length === 0 && recoveredAll;
    return {
      seed: options.seed,
      layout: options.layout,
      kafka: system.broker.description,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      load: load.counts,
      faults: withClientView(results, client.ledger),
      clients: clientFigures(client.ledger),
      verification: { ...verdict, fulfilmentTrails: trails, divergentReadModels: divergent, readModelsNotCaughtUp: notCaughtUp, deadLetters: dlq, instancesExited: exited },
      passed,
    };
  } finally {
    redis.disconnect();
    await system.stop();
  }
}
