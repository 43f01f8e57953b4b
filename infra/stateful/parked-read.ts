// Reading parked inputs on assignment (docs/stateful-runtime.md "Parking"):
// the partitions of one or more parked topics, whole and read-committed (they
// are compacted and tombstoned on redrive or skip, so small), into each
// partition's parked processes. The runtime's tasks (load.ts) and the command
// processor's lanes (producers/command-processor/parking.ts) both restore
// their parking this way.
import type { Kafka } from 'kafkajs';
import { PARKED_INPUT } from '../../schemas/loader';
import type { AvroCodec } from '../kafka/codec';
import { readToEnd } from '../kafka/read-to-end';
import { groupParked, parkedFromRecord, REQUEST_KEY_PREFIX, type ParkedInput } from './parking';

/** Where a partition's parked processes are found in readParked's answer. */
export const parkedAt = (topic: string, partition: number): string => `${topic}:${partition}`;

/** The parked inputs of each topic partition (by parkedAt), per process, head first, as the committed topics hold them. */
export async function readParked(
  kafka: Kafka,
  codec: AvroCodec,
  targets: ReadonlyArray<{ readonly topic: string; readonly partitions: readonly number[] }>,
  timeoutMs?: number,
): Promise<Map<string, Map<string, readonly ParkedInput[]>>> {
  const latest = new Map<string, Map<string, ParkedInput>>();
  for (const { topic, partitions } of targets) for (const p of partitions) latest.set(parkedAt(topic, p), new Map());
  if (latest.size > 0) {
    await readToEnd(
      kafka,
      targets.map(({ topic, partitions }) => ({ topic, partitions: [...partitions] })),
      async ({ topic, partition, message }) => {
        const key = message.key?.toString() ?? '';
        const byKey = latest.get(parkedAt(topic, partition));
        if (byKey === undefined || key.startsWith(REQUEST_KEY_PREFIX)) return; // requests are consumed, not restored
        if (message.value === null) {
          byKey.delete(key);
          return;
        }
        const decoded = await codec.decode(message.value);
        if (decoded.fullName !== PARKED_INPUT) return;
        byKey.set(key, parkedFromRecord(decoded.value));
      },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
  }
  return new Map([...latest].map(([at, byKey]) => [at, groupParked(byKey)]));
}
