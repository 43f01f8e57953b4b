// Where the command processor's replies go: partition p of the command topic
// answers on partition p mod R of restaurant.command-replies (R its
// partitions), keyed by commandId, so each replies partition has one writer
// (docs/command-side.md "One worker per partition number"). The stateful
// runtime places an emitted record by the murmur2 of its `partitionKey`, so
// the definition (command-definition.ts) gives each reply a key that hashes to
// that partition: the first `@reply/<n>` that does, found once per partition.
import { partitionFor } from '../../schemas/partitioning';

const anchors = new Map<string, string>();

/** A partitioning key whose murmur2 places a record on `partition` of a topic of `partitions` partitions. */
export function partitionAnchor(partition: number, partitions: number): string {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) throw new RangeError(`no partition ${partition} in ${partitions}`);
  const memo = `${partition}/${partitions}`;
  const known = anchors.get(memo);
  if (known !== undefined) return known;
  for (let n = 0; ; n += 1) {
    const key = `@reply/${n}`;
    if (partitionFor(key, partitions) === partition) {
      anchors.set(memo, key);
      return key;
    }
  }
}

/** The replies partition of a command read from partition `commandPartition`, as the processor writes it. */
export const replyPartition = (commandPartition: number, repliesPartitions: number): number => commandPartition % repliesPartitions;
