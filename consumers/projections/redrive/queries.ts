// The read-only half of the dead-letter tools, shared by `npm run dlq`
// (cli.ts) and the admin API (consumers/admin-api/app.ts): list the parked
// aggregates of read models, and show one decoded with its headers.
import type Redis from 'ioredis';
import type { AvroCodec } from '../../../infra/kafka/codec';
import type { ParkedAggregate, ParkedEvent } from '../runtime/parking';
import { projectionGroupId, READ_MODEL_SPECS, type ReadModelSpec } from '../runtime/read-models';
import { servingKeyspace } from '../runtime/serving';
import type { ReadModelName } from '../shared/keys';
import { decodeParked, listParked, showParked, type ParkedStore } from './redrive';

/** Where a read model's parked aggregates are: the given keyspace, or the one serving the model under `base`. */
export interface StoreChoice {
  readonly redis: Redis;
  /** The deployment's base keyspace (READ_MODEL_KEYSPACE). */
  readonly base: string;
  /** A keyspace to use instead of the serving one (blue/green builds, tests). */
  readonly keyspace?: string | undefined;
  /** The read models' specs (default READ_MODEL_SPECS; tests give a projection with a bug switched on). */
  readonly specs?: Readonly<Partial<Record<ReadModelName, ReadModelSpec>>>;
}

export async function parkedStore(choice: StoreChoice, model: ReadModelName): Promise<ParkedStore> {
  return {
    redis: choice.redis,
    spec: choice.specs?.[model] ?? READ_MODEL_SPECS[model],
    keyspace: choice.keyspace ?? (await servingKeyspace(choice.redis, choice.base, model)),
  };
}

export interface ListedDeadLetter extends ParkedAggregate {
  readonly consumerGroup: string;
  readonly readModel: ReadModelName;
  readonly keyspace: string;
}

export interface DeadLetterFilter {
  readonly models: readonly ReadModelName[];
  readonly reason?: string | undefined;
  readonly aggregateId?: string | undefined;
}

/** The parked aggregates of `models` (oldest first per model), optionally only those of one reason or one aggregate. */
export async function listDeadLetters(choice: StoreChoice, filter: DeadLetterFilter): Promise<ListedDeadLetter[]> {
  const out: ListedDeadLetter[] = [];
  for (const model of filter.models) {
    const store = await parkedStore(choice, model);
    for (const p of await listParked(store)) {
      if (filter.reason !== undefined && p.reason !== filter.reason) continue;
      if (filter.aggregateId !== undefined && p.aggregateId !== filter.aggregateId) continue;
      out.push({ consumerGroup: projectionGroupId(model, store.keyspace), readModel: model, keyspace: store.keyspace, ...p });
    }
  }
  return out;
}

/** A parked event as shown: its headers as they arrived (event-type, correlation and causation ids, `traceparent` when traced...), its key as text, its value decoded with the current decoder or `{ undecodable: <why> }`. */
export type ShownEvent = Omit<ParkedEvent, 'key' | 'value'> & { readonly key: string | null; readonly value: unknown };

export interface ShownDeadLetter {
  readonly readModel: ReadModelName;
  readonly keyspace: string;
  readonly parked: ParkedAggregate | null;
  readonly chain: ShownEvent[];
}

/** One aggregate's parked state and chain, each event decoded with the current decoder; undefined when it is not parked. */
export async function showDeadLetter(choice: StoreChoice, codec: AvroCodec, model: ReadModelName, aggregateId: string): Promise<ShownDeadLetter | undefined> {
  const store = await parkedStore(choice, model);
  const found = await showParked(store, aggregateId);
  if (found === undefined) return undefined;
  const chain: ShownEvent[] = [];
  for (const event of found.chain) {
    const { value: _raw, key, ...rest } = event;
    let decoded: unknown;
    try {
      decoded = (await decodeParked(codec, event)).value;
    } catch (error) {
      decoded = { undecodable: (error as Error).message };
    }
    chain.push({ ...rest, key: key === null ? null : Buffer.from(key, 'base64').toString(), value: decoded });
  }
  return { readModel: model, keyspace: store.keyspace, parked: found.parked ?? null, chain };
}
