// Redis key layout shared by every read model:
//
//   rm:{<keyspace>}:<read-model>:<kind>:<id>
//
// * `rm:` marks read-model data (nothing else in Redis starts with it).
// * `{<keyspace>}` is the deployment's keyspace, e.g. `{live}` or `{blue}`. A
//   rebuild writes into a fresh keyspace by replay while queries keep reading
//   the old one, then the query side switches with one atomic pointer change
//   (blue/green, docs/operations.md). The braces are a Redis Cluster hash tag on
//   purpose: every key of one keyspace hashes to one slot, so a batch's
//   MULTI/Lua script may touch keys of several aggregates (sales counters,
//   queues) and still be legal on a cluster. The price is that one keyspace
//   lives on one shard, which read models of one restaurant fit easily.
// * `<read-model>` separates read models, so each can be dropped and rebuilt
//   on its own (`SCAN MATCH rm:{blue}:sales:*`).
// * ids always come last, so an id containing ':' cannot be confused with a
//   key kind.
//
// Bookkeeping of the runtime lives next to the data it guards:
//   rm:{<keyspace>}:<read-model>:v:<aggregateId>   last applied aggregate version
//   rm:{<keyspace>}:<read-model>:checkpoint        hash "<topic>:<partition>" -> next offset
//   rm:{<keyspace>}:<read-model>:rebuild           hash "<topic>:<partition>" -> end offset to reach;
//                                                  present while partitions are rebuilt from the start
//   rm:{<keyspace>}:<read-model>:parked            hash aggregateId -> why it is parked (JSON; docs/read-side.md#parked-aggregates)
//   rm:{<keyspace>}:<read-model>:parked-chain:<aggregateId>  hash "<topic>:<partition>:<offset>" -> a parked event (JSON)
//   rm:{<keyspace>}:<read-model>:parked-v:<aggregateId>      highest version parked (the parking writes' own guard)
//
// Blue/green (docs/operations.md): a deployment is configured with a base
// keyspace (READ_MODEL_KEYSPACE, default `live`); which keyspace serves each
// read model is a pointer next to it, switched atomically by a rebuild:
//   rm:{<base>}:serving       hash "<read-model>" -> keyspace (absent: the base itself)
//   rm:{<base>}:generation    hash "<read-model>" -> last rebuild generation number

import type { ReadModelName } from '../../../schemas/read-models';
// The names are a contract the access catalogs share (schemas/read-models.ts).
export { READ_MODELS, type ReadModelName } from '../../../schemas/read-models';

const KEYSPACE = /^[a-z0-9][a-z0-9-]{0,31}$/;

export class InvalidKeyspaceError extends Error {
  constructor(keyspace: string) {
    super(`keyspace "${keyspace}" must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit`);
    this.name = 'InvalidKeyspaceError';
  }
}

/** The default keyspace of a fresh deployment. */
export const DEFAULT_KEYSPACE = 'live';

export function assertKeyspace(keyspace: string): string {
  if (!KEYSPACE.test(keyspace)) throw new InvalidKeyspaceError(keyspace);
  return keyspace;
}

/**
 * A read model's key helpers are built once per keyspace: projections ask for
 * them for every event, and a replay applies hundreds of thousands.
 */
export function perKeyspace<K>(make: (keyspace: string) => K): (keyspace: string) => K {
  const made = new Map<string, K>();
  return (keyspace) => {
    let keys = made.get(keyspace);
    if (keys === undefined) {
      keys = make(keyspace);
      made.set(keyspace, keys);
    }
    return keys;
  };
}

/** `rm:{<keyspace>}:<read-model>:` — every key of one read model starts with this. */
export function readModelPrefix(keyspace: string, readModel: ReadModelName): string {
  return `rm:{${assertKeyspace(keyspace)}}:${readModel}:`;
}

/** Last aggregate version applied to this read model (the runtime's version guard). */
export function versionKey(keyspace: string, readModel: ReadModelName, aggregateId: string): string {
  return `${readModelPrefix(keyspace, readModel)}v:${aggregateId}`;
}

/** The projector's consumed offsets, written in the same round trip as the data. */
export function checkpointKey(keyspace: string, readModel: ReadModelName): string {
  return `${readModelPrefix(keyspace, readModel)}checkpoint`;
}

/** Partitions being rebuilt from the start and the end offset each must reach before the model is whole again. */
export function rebuildKey(keyspace: string, readModel: ReadModelName): string {
  return `${readModelPrefix(keyspace, readModel)}rebuild`;
}

/** The read model's parked aggregates: aggregateId -> why (docs/read-side.md#parked-aggregates). */
export function parkedKey(keyspace: string, readModel: ReadModelName): string {
  return `${readModelPrefix(keyspace, readModel)}parked`;
}

/** One parked aggregate's events, dead-lettered head included: "<topic>:<partition>:<offset>" -> the event. */
export function parkedChainKey(keyspace: string, readModel: ReadModelName, aggregateId: string): string {
  return `${readModelPrefix(keyspace, readModel)}parked-chain:${aggregateId}`;
}

/** The highest version parked for an aggregate: the version guard of the parking writes themselves. */
export function parkedVersionKey(keyspace: string, readModel: ReadModelName, aggregateId: string): string {
  return `${readModelPrefix(keyspace, readModel)}parked-v:${aggregateId}`;
}

/** Which keyspace serves each read model of a deployment whose base keyspace is `base`. */
export function servingKey(base: string): string {
  return `rm:{${assertKeyspace(base)}}:serving`;
}

/** The generation counter of blue/green rebuilds of a deployment (names the next keyspace). */
export function generationKey(base: string): string {
  return `rm:{${assertKeyspace(base)}}:generation`;
}

/** Pattern matching every key of a read model in a keyspace (for SCAN when dropping a rebuild). */
export function readModelPattern(keyspace: string, readModel: ReadModelName): string {
  // Braces are not glob-special in Redis MATCH patterns (only * ? [ ] and backslash are).
  return `${readModelPrefix(keyspace, readModel)}*`;
}
