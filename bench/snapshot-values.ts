// Synthetic aggregate snapshots as Avro bytes (~200–400 bytes each, like the
// command processor's order snapshots: state + version + a few replies), keyed
// by aggregate id. Shared by the state-store benches so both measure the same
// values.
import avro from 'avsc';

const snapshotType = avro.Type.forSchema({
  type: 'record',
  name: 'BenchSnapshot',
  fields: [
    { name: 'aggregateId', type: 'string' },
    { name: 'version', type: 'int' },
    { name: 'status', type: 'string' },
    { name: 'customerId', type: 'string' },
    {
      name: 'lines',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'BenchLine',
          fields: [
            { name: 'menuItemId', type: 'string' },
            { name: 'name', type: 'string' },
            { name: 'quantity', type: 'int' },
            { name: 'unitPriceMinor', type: 'long' },
          ],
        },
      },
    },
    { name: 'replies', type: { type: 'array', items: 'string' } },
  ],
});

export const snapshotKey = (i: number): string => `order-${i.toString().padStart(8, '0')}`;

/** Avro bytes of aggregate `i`'s snapshot at `version`; sizes vary between ~200 and ~400 bytes. */
export function snapshotValue(i: number, version = 1): Buffer {
  const lineCount = 3 + (i % 4);
  const replyCount = 3 + ((i >> 2) % 4);
  return snapshotType.toBuffer({
    aggregateId: snapshotKey(i),
    version,
    status: ['open', 'placed', 'confirmed', 'delivered'][i % 4],
    customerId: `customer-${i % 9973}`,
    lines: Array.from({ length: lineCount }, (_, l) => ({ menuItemId: `item-${(i + l) % 200}`, name: `Dish ${(i + l) % 200}`, quantity: 1 + (l % 3), unitPriceMinor: 950 + l * 50 })),
    replies: Array.from({ length: replyCount }, (_, r) => `command-${(i * 2654435761) % 4294967296}-${version}-${r}:accepted`),
  });
}

export function decodeSnapshot(bytes: Buffer): unknown {
  return snapshotType.fromBuffer(bytes);
}
