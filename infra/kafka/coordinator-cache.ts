// kafkajs looks up a coordinator (FindCoordinator) before every transactional
// call: adding partitions, sending offsets (twice: the transaction's and the
// group's coordinator) and committing. That is four extra round trips in every
// transaction, a third of its requests. Coordinators move only when a broker
// fails or leadership changes, so this remembers each lookup per client, and
// forgets it as soon as a call through the remembered broker fails because it
// is not (or no longer) the coordinator or cannot be reached, or after `ttlMs`,
// whichever comes first; kafkajs's own retries then look it up again.
//
// kafkajs builds a new internal Cluster for every producer, consumer and admin
// through a private factory on the Kafka object; that factory is wrapped here.
// If a kafkajs upgrade renames it, clients work as before, uncached (and the
// integration test that counts FindCoordinator requests fails).
import type { Kafka } from 'kafkajs';

const FACTORY = 'private:Kafka:createCluster';

interface CoordinatorQuery {
  readonly groupId: string;
  readonly coordinatorType?: number;
}

interface ClusterLike {
  findGroupCoordinator(query: CoordinatorQuery): Promise<object>;
}

type ClusterFactory = (...args: unknown[]) => ClusterLike;

/** Is the factory still where this module expects it? */
export function canCacheCoordinators(kafka: Kafka): boolean {
  return Object.getOwnPropertySymbols(kafka).some((s) => s.description === FACTORY);
}

const COORDINATOR_MOVED = new Set(['NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE']);
const UNREACHABLE = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound']);

/** Does this failure say the remembered broker is the wrong one to ask? (Not, say, CONCURRENT_TRANSACTIONS.) */
export function meansCoordinatorGone(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { type, name, code } = error as { type?: unknown; name?: unknown; code?: unknown };
  return (typeof type === 'string' && COORDINATOR_MOVED.has(type)) || (typeof name === 'string' && UNREACHABLE.has(name)) || code === 'ECONNREFUSED';
}

/**
 * Calls a consumer group's member makes to the broker it looked up once, when
 * it joined, and then never again: kafkajs keeps that broker for every
 * heartbeat, so when the coordinator's node dies the heartbeats go to the dead
 * node until the consumer's retries run out and it crashes out of its group
 * (each crash a rebalance, docs/chaos.md "Issue #16's findings"). A heartbeat
 * is idempotent: when one fails for want of the coordinator, it is sent once
 * more to the coordinator looked up afresh, and the member's later heartbeats
 * go there too. The new coordinator has loaded the group, members included,
 * from __consumer_offsets.
 */
const FOLLOWS_COORDINATOR = new Set<PropertyKey>(['heartbeat']);

/**
 * The remembered broker, whose calls forget the entry when they fail for want
 * of the right coordinator; a group member's heartbeat then moves to the
 * coordinator `relookup` finds (FOLLOWS_COORDINATOR).
 */
function forgettingOnFailure<T extends object>(broker: T, forget: () => void, relookup?: () => Promise<T>): T {
  let current = broker;
  const check = (error: unknown): boolean => {
    const gone = meansCoordinatorGone(error);
    if (gone) forget();
    return gone;
  };
  return new Proxy(broker, {
    get(_target, property) {
      const target = current;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) return result.catch(async (error: unknown) => {
            if (!check(error) || relookup === undefined || !FOLLOWS_COORDINATOR.has(property)) throw error;
            const fresh = await relookup().catch(() => undefined);
            if (fresh === undefined) throw error;
            current = fresh;
            return (Reflect.get(fresh, property, fresh) as (...a: unknown[]) => unknown).apply(fresh, args);
          });
          return result;
        } catch (error) {
          check(error);
          throw error;
        }
      };
    },
  });
}

function caching(cluster: ClusterLike, ttlMs: number, now: () => number): void {
  const lookup = cluster.findGroupCoordinator.bind(cluster);
  const cache = new Map<string, { readonly at: number; readonly broker: Promise<object> }>();
  cluster.findGroupCoordinator = (query: CoordinatorQuery) => {
    const key = `${query.coordinatorType ?? 0}:${query.groupId}`;
    const hit = cache.get(key);
    if (hit !== undefined && now() - hit.at < ttlMs) return hit.broker;
    const forget = (): void => {
      if (cache.get(key) === entry) cache.delete(key);
    };
    const entry = {
      at: now(),
      broker: lookup(query).then(
        (broker) => forgettingOnFailure(broker, forget, (query.coordinatorType ?? 0) === 0 ? () => lookup(query) : undefined),
        (error: unknown) => {
          forget();
          throw error;
        },
      ),
    };
    cache.set(key, entry);
    return entry.broker;
  };
}

/** Makes every client created from `kafka` from now on remember its coordinators. Returns `kafka`. */
export function cacheCoordinators(kafka: Kafka, options: { readonly ttlMs?: number; readonly now?: () => number } = {}): Kafka {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === FACTORY);
  if (symbol === undefined) return kafka;
  const holder = kafka as unknown as Record<symbol, ClusterFactory>;
  const create = holder[symbol] as ClusterFactory;
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  holder[symbol] = (...args: unknown[]) => {
    const cluster = create(...args);
    caching(cluster, ttlMs, now);
    return cluster;
  };
  return kafka;
}
