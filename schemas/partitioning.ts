// Partitioning and keys, pure. All topics of one aggregate hash the aggregateId
// only, with the same murmur2 as Java's default partitioner
// (toPositive(murmur2(bytes)) % numPartitions), so an aggregate's commands,
// events and snapshots share one partition number, and Java or other clients
// agree with us on where a key goes.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): a signed 32-bit hash. */
export function murmur2(key: string | Uint8Array): number {
  const data = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  const length = data.length;
  let h = SEED ^ length;
  const whole = length - (length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = (data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length % 4;
  if (rest === 3) h ^= (data[whole + 2] ?? 0) << 16;
  if (rest >= 2) h ^= (data[whole + 1] ?? 0) << 8;
  if (rest >= 1) {
    h ^= data[whole] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's Utils.toPositive: clears the sign bit (not Math.abs, which differs for MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition of an aggregate on any of its topics. */
export function partitionFor(aggregateId: string, numPartitions: number): number {
  if (!Number.isInteger(numPartitions) || numPartitions < 1) throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
  return toPositive(murmur2(aggregateId)) % numPartitions;
}

/** Key of an event record: `<aggregateId>/<version>`, so compaction keeps every event (docs/schemas.md). */
export function eventKey(aggregateId: string, version: number): string {
  if (aggregateId.length === 0) throw new RangeError('aggregateId must not be empty');
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError(`event version must be a positive integer, got ${version}`);
  return `${aggregateId}/${version}`;
}

export class EventKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventKeyError';
  }
}

/** Parses `<aggregateId>/<version>`; the id may itself contain `/`, the version is after the last one. */
export function parseEventKey(key: string): { readonly aggregateId: string; readonly version: number } {
  const slash = key.lastIndexOf('/');
  const aggregateId = key.slice(0, slash);
  const versionText = key.slice(slash + 1);
  if (slash <= 0 || !/^[1-9][0-9]*$/.test(versionText) || !Number.isSafeInteger(Number(versionText))) {
    throw new EventKeyError(`"${key}" is not an event key of the form <aggregateId>/<version>`);
  }
  return { aggregateId, version: Number(versionText) };
}
