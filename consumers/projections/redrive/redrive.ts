// Redrive and skip of a read model's parked aggregates (docs/read-side.md#parked-aggregates).
//
// Redrive: an aggregate's parked chain (the dead-lettered head and the events
// parked behind it) is decoded again with the current decoder, run through the
// current projection in the order it was read, and written with the same batch
// script as the projector (redis-batch.ts), whose per-aggregate version guard
// applies each event at most once: a second redrive, or one after a crash
// half-way, applies nothing twice. Then the aggregate is unparked by a small
// script that removes the chain only if it still holds the events just
// redriven; if the projector parked another one meanwhile, the redrive goes
// round again (the guard skips what it already applied).
//
// Skip: one parked event is dropped from the chain without being applied
// (the aggregate stays parked while events remain; an emptied chain unparks it).
//
// Neither writes a checkpoint: the projector's checkpoint is already past the
// parked events.
import type Redis from 'ioredis';
import type { IHeaders } from 'kafkajs';
import type { AvroCodec } from '../../../infra/kafka/codec';
import { parkedChainKey, parkedKey, parkedVersionKey, versionKey } from '../shared/keys';
import type { DecodedRecord } from '../../../infra/consuming/batch-sink';
import { chainField, parseChain, parseParked, type ParkedAggregate, type ParkedEvent } from '../runtime/parking';
import { envelopesOf, projectBatch, type AggregateState } from '../runtime/projector';
import type { ReadModelSpec } from '../runtime/read-models';
import { applyBatch, encodeBatch } from '../runtime/redis-batch';

export interface ParkedStore {
  readonly redis: Redis;
  readonly spec: ReadModelSpec;
  readonly keyspace: string;
}

export interface RedriveOutcome {
  readonly aggregateId: string;
  /** `redriven`: applied and unparked; `failed`: still failing, stays parked; `not-parked`: nothing to do. */
  readonly outcome: 'redriven' | 'failed' | 'not-parked';
  /** The events of the chain, as "<topic>:<partition>:<offset>". */
  readonly events: readonly string[];
  /** Events applied now (those applied before are skipped by the version guard). */
  readonly applied: number;
  readonly error?: string;
}

/** Removes an aggregate's chain and parked state if the chain still has exactly `expected` events. */
const UNPARK_LUA = `
if redis.call('HLEN', KEYS[1]) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`;

/** Drops one event of a chain; unparks the aggregate when none is left, else states the new head. */
const SKIP_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then
  return 0
end
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 2
end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
end
return 1
`;

const ROUNDS = 5;

const chainKeys = (store: ParkedStore, aggregateId: string): string[] => [
  parkedChainKey(store.keyspace, store.spec.name, aggregateId),
  parkedVersionKey(store.keyspace, store.spec.name, aggregateId),
  parkedKey(store.keyspace, store.spec.name),
];

/** The read model's parked aggregates, oldest first. */
export async function listParked(store: ParkedStore): Promise<ParkedAggregate[]> {
  return parseParked(await store.redis.hgetall(parkedKey(store.keyspace, store.spec.name)));
}

/** One aggregate's parked state and chain (undefined: not parked and no chain). */
export async function showParked(store: ParkedStore, aggregateId: string): Promise<{ parked: ParkedAggregate | undefined; chain: ParkedEvent[] } | undefined> {
  const [summary, chain] = await Promise.all([
    store.redis.hget(parkedKey(store.keyspace, store.spec.name), aggregateId),
    store.redis.hgetall(parkedChainKey(store.keyspace, store.spec.name, aggregateId)),
  ]);
  const events = parseChain(chain);
  if (summary === null && events.length === 0) return undefined;
  return { parked: summary === null ? undefined : (JSON.parse(summary) as ParkedAggregate), chain: events };
}

const headersOf = (headers: Readonly<Record<string, string>>): IHeaders => ({ ...headers });

/** A parked event decoded again with the current decoder (throws a DecodeError when it cannot be). */
export async function decodeParked(codec: AvroCodec, event: ParkedEvent): Promise<DecodedRecord> {
  const rawValue = Buffer.from(event.value, 'base64');
  const decoded = await codec.decode(rawValue);
  return {
    topic: event.topic,
    partition: event.partition,
    offset: event.offset,
    key: event.key === null ? null : Buffer.from(event.key, 'base64'),
    rawValue,
    headers: headersOf(event.headers),
    type: decoded.fullName.slice(decoded.fullName.lastIndexOf('.') + 1),
    fullName: decoded.fullName,
    value: decoded.value,
  };
}

/** Applies the events (in order, through the version guard); returns how many were applied now. */
async function apply(store: ParkedStore, records: readonly DecodedRecord[]): Promise<number> {
  const { redis, spec, keyspace } = store;
  const envelopes = envelopesOf(records);
  const ids = [...new Set(envelopes.map((e) => e.metadata.aggregateId))];
  let current: Map<string, AggregateState> | undefined;
  if (ids.length > 0 && spec.projection.stateKey(keyspace, ids[0] as string) !== null) {
    const values = await redis.mget(...ids.map((id) => spec.projection.stateKey(keyspace, id) as string), ...ids.map((id) => versionKey(keyspace, spec.name, id)));
    current = new Map(
      ids.map((id, i) => {
        const doc = values[i];
        const version = values[ids.length + i];
        return [id, { state: doc === null || doc === undefined ? spec.projection.initialState : (JSON.parse(doc) as unknown), version: version ? Number(version) : 0 }];
      }),
    );
  }
  const { writes } = projectBatch(spec, keyspace, envelopes, current);
  if (writes.length === 0) return 0;
  const [applied] = await applyBatch(redis, encodeBatch(keyspace, spec.name, writes, new Map()));
  return applied;
}

/**
 * Redrives an aggregate's parked chain through `codec` and `store.spec`'s
 * projection, in order, each event at most once, and unparks it. A chain that
 * still fails stays parked, nothing of it applied.
 */
export async function redriveAggregate(store: ParkedStore, codec: AvroCodec, aggregateId: string): Promise<RedriveOutcome> {
  const [chainKey, parkedV, indexKey] = chainKeys(store, aggregateId) as [string, string, string];
  let applied = 0;
  let seen: string[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const chain = parseChain(await store.redis.hgetall(chainKey));
    const parked = (await store.redis.hexists(indexKey, aggregateId)) === 1;
    if (chain.length === 0 && !parked) return { aggregateId, outcome: round === 0 ? 'not-parked' : 'redriven', events: seen, applied };
    seen = [...new Set([...seen, ...chain.map(chainField)])];
    try {
      const records: DecodedRecord[] = [];
      // A type the projection does not read is left out, as the projector skips it.
      for (const event of chain) {
        const record = await decodeParked(codec, event);
        if (store.spec.projection.handles.has(record.type)) records.push(record);
      }
      applied += await apply(store, records);
    } catch (error) {
      return { aggregateId, outcome: 'failed', events: seen, applied, error: error instanceof Error ? error.message : String(error) };
    }
    const done = (await store.redis.eval(UNPARK_LUA, 3, chainKey, parkedV, indexKey, aggregateId, String(chain.length))) as number;
    if (done === 1) return { aggregateId, outcome: 'redriven', events: seen, applied };
  }
  return { aggregateId, outcome: 'failed', events: seen, applied, error: `the projector kept parking new events while redriving (${ROUNDS} rounds); run it again` };
}

export interface SkipOutcome {
  readonly aggregateId: string;
  readonly outcome: 'skipped' | 'not-parked';
  /** The event dropped, as "<topic>:<partition>:<offset>". */
  readonly events: readonly string[];
  /** True when the chain is now empty and the aggregate unparked. */
  readonly unparked: boolean;
}

/**
 * Drops one parked event of an aggregate without applying it: the one at
 * `position` ("<topic>:<partition>:<offset>"), default the chain's first (the
 * dead-lettered head). The aggregate stays parked while events remain (redrive
 * them); its parked entry then names the next event as its head.
 */
export async function skipParked(store: ParkedStore, aggregateId: string, position?: string): Promise<SkipOutcome> {
  const [chainKey, parkedV, indexKey] = chainKeys(store, aggregateId) as [string, string, string];
  const chain = parseChain(await store.redis.hgetall(chainKey));
  const target = position === undefined ? chain[0] : chain.find((e) => chainField(e) === position);
  if (target === undefined) return { aggregateId, outcome: 'not-parked', events: [], unparked: false };
  const rest = chain.filter((e) => e !== target);
  const summaryJson = await store.redis.hget(indexKey, aggregateId);
  const summary = summaryJson === null ? undefined : (JSON.parse(summaryJson) as ParkedAggregate);
  const next = rest[0];
  const newSummary: ParkedAggregate | undefined =
    summary !== undefined && next !== undefined && chainField(summary.head) === chainField(target)
      ? { ...summary, head: { topic: next.topic, partition: next.partition, offset: next.offset, eventId: next.eventId, version: next.version, type: next.type } }
      : summary;
  const done = (await store.redis.eval(SKIP_LUA, 3, chainKey, parkedV, indexKey, aggregateId, chainField(target), JSON.stringify(newSummary ?? null))) as number;
  if (done === 0) return { aggregateId, outcome: 'not-parked', events: [], unparked: false };
  return { aggregateId, outcome: 'skipped', events: [chainField(target)], unparked: done === 2 };
}
