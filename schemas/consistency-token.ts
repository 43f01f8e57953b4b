// Read-your-writes tokens (docs/read-side.md). A command's reply says where its
// events were written; the token carries, per topic and partition, the highest
// such offset, as base64url JSON `{ "<topic>": { "<partition>": <offset> } }`.
// A query given the token waits (bounded) until its read model's checkpoint has
// passed every position on a topic that model reads (checkpoint > offset).
//
// Shared contract of the gateway (which mints tokens) and the query API (which
// honours them). Pure.

export type Positions = Readonly<Record<string, Readonly<Record<string, number>>>>;

export interface Position {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** Token of some positions; for one partition only the highest offset matters. */
export function consistencyToken(positions: readonly Position[]): string {
  const out: Record<string, Record<string, number>> = {};
  for (const { topic, partition, offset } of positions) {
    const partitions = (out[topic] ??= {});
    partitions[String(partition)] = Math.max(partitions[String(partition)] ?? -1, offset);
  }
  return Buffer.from(JSON.stringify(out), 'utf8').toString('base64url');
}

export type ParsedToken = { readonly ok: true; readonly positions: Position[] } | { readonly ok: false; readonly error: string };

const MAX_TOKEN_LENGTH = 4_096;

export function parseConsistencyToken(token: string): ParsedToken {
  const bad = (why: string): ParsedToken => ({ ok: false, error: `consistency token is not valid: ${why}` });
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return bad('expected base64url text of at most 4096 characters');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return bad('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('expected an object of topics');
  const positions: Position[] = [];
  for (const [topic, partitions] of Object.entries(parsed)) {
    if (typeof partitions !== 'object' || partitions === null || Array.isArray(partitions)) return bad(`topic ${topic} has no partitions object`);
    for (const [partition, offset] of Object.entries(partitions as Record<string, unknown>)) {
      if (!/^\d{1,6}$/.test(partition)) return bad(`partition "${partition}" of ${topic} is not a whole number`);
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return bad(`offset of ${topic}/${partition} is not a whole number`);
      positions.push({ topic, partition: Number(partition), offset });
    }
  }
  return { ok: true, positions };
}

/** Positions not reached yet by a checkpoint (topic -> partition -> next offset to read). */
export function positionsBehind(positions: readonly Position[], checkpoint: ReadonlyMap<string, ReadonlyMap<number, number>>): Position[] {
  return positions.filter((p) => (checkpoint.get(p.topic)?.get(p.partition) ?? 0) <= p.offset);
}

/**
 * Why the positions cannot be waited for: one names a topic this deployment
 * does not have, or a partition beyond its topic's count (a wait for it would
 * only ever time out). `partitionsOf` gives undefined for an unknown topic.
 * null when every position exists.
 */
export function nonexistentPosition(positions: readonly Position[], partitionsOf: (topic: string) => number | undefined): string | null {
  for (const { topic, partition } of positions) {
    const partitions = partitionsOf(topic);
    if (partitions === undefined) return `consistency token names topic "${topic.slice(0, 100)}", which does not exist`;
    if (partition >= partitions) return `consistency token names partition ${partition} of ${topic}, which has ${partitions} partitions`;
  }
  return null;
}
