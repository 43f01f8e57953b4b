// The one-off migration of events written before encryption (infra/privacy/migration.ts)
// on a topic written the old way: every plaintext personal field is re-written
// sealed under the event's own key, a forgotten customer's erased; after the
// log cleaner has run, no plaintext is left in the topic; a second run writes nothing.
import { AvroCodec } from '../../infra/kafka/codec';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { newDataKey, open, type DataKey } from '../../infra/privacy/crypto';
import { erase, migrateEventTopic, sealWith } from '../../infra/privacy/migration';
import type { EventMetadata } from '../../schemas/generated/types';
import { eventKey } from '../../schemas/partitioning';
import { testKafka, testRegistry, unique, waitFor, withAdmin } from '../support/kafka';

const kafka = testKafka('it-privacy-migration');
const codec = new AvroCodec(testRegistry());

const meta = (aggregateId: string, version: number): EventMetadata => ({
  eventId: `${aggregateId}-${version}`, aggregateId, version, occurredAt: 1_700_000_000_000 + version,
  commandId: `c-${aggregateId}-${version}`, correlationId: 'corr', causationId: `c-${aggregateId}-${version}`, actor: { subject: aggregateId, roles: ['customer'] },
});
const home = { line1: 'Oldstreet 7', line2: 'Attic', city: 'Oldtown', postalCode: 'OLD 123', country: 'NL' };
const history: [string, string, Record<string, unknown>][] = [
  ['kept', 'CustomerSignedUp', { name: 'Olivia Oldway', email: 'olivia@old.example' }],
  ['kept', 'DeliveryAddressAdded', { addressId: 'home', address: home }],
  ['kept', 'CustomerNameChanged', { name: 'Olivia Newway' }],
  ['gone', 'CustomerSignedUp', { name: 'Gordon Gone', email: 'gordon@old.example' }],
];
const PLAINTEXT = ['Olivia', 'olivia@old.example', 'Oldstreet', 'Attic', 'Oldtown', 'OLD 123', 'Gordon', 'gordon@old.example'];

async function raw(topic: string): Promise<{ key: string; bytes: Buffer; value: Record<string, unknown> }[]> {
  const out: { key: string; bytes: Buffer; value: Record<string, unknown> }[] = [];
  await readToEnd(kafka, [{ topic }], async ({ message }) => {
    if (message.value === null) return;
    out.push({ key: message.key?.toString() ?? '', bytes: Buffer.from(message.value), value: (await codec.decode(message.value)).value as Record<string, unknown> });
  });
  return out;
}

it('re-writes plaintext personal data sealed (or erased for the forgotten) and compaction leaves none', async () => {
  const topic = unique('it.privacy-migration.customer.events');
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'segment.ms', value: '100' },
        { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        { name: 'min.compaction.lag.ms', value: '0' },
      ] }],
    }),
  );
  const producer = kafka.producer();
  await producer.connect();
  try {
  const versions = new Map<string, number>();
  for (const [id, type, data] of history) {
    const version = (versions.get(id) ?? 0) + 1;
    versions.set(id, version);
    await producer.send({ topic, messages: [{ key: eventKey(id, version), value: await codec.encode(topic, `restaurant.customer.${type}`, { metadata: meta(id, version), ...data }), partition: 0 }] });
  }

  const keys = new Map<string, DataKey>();
  const protectFor = async (customerId: string) => {
    if (customerId === 'gone') return erase;
    const key = keys.get(customerId) ?? newDataKey(customerId);
    keys.set(customerId, key);
    return sealWith(key);
  };
  expect(await migrateEventTopic(kafka, codec, { topic, aggregate: 'customer' }, protectFor)).toEqual({ read: 4, rewritten: 4 });
  expect(await migrateEventTopic(kafka, codec, { topic, aggregate: 'customer' }, protectFor)).toEqual({ read: 8, rewritten: 0 });

  // The latest copy of each event: same metadata, sealed fields that open to what was written, or erased.
  const latest = new Map((await raw(topic)).map((r) => [r.key, r.value]));
  const key = keys.get('kept');
  if (key === undefined) throw new Error('a key for the kept customer');
  const signedUp = latest.get(eventKey('kept', 1));
  expect(signedUp?.metadata).toEqual(meta('kept', 1));
  expect(open(key, 'name', signedUp?.name as string)).toBe('Olivia Oldway');
  expect(open(key, 'email', signedUp?.email as string)).toBe('olivia@old.example');
  const address = latest.get(eventKey('kept', 2))?.address as typeof home;
  expect({ ...address, line1: open(key, 'address.line1', address.line1), line2: open(key, 'address.line2', address.line2), city: open(key, 'address.city', address.city), postalCode: open(key, 'address.postalCode', address.postalCode) }).toEqual(home);
  expect(latest.get(eventKey('gone', 1))).toMatchObject({ name: '[forgotten]', email: '[forgotten]' });

  // The cleaner drops the plaintext copies (a last write rolls the segment holding the re-writes).
  await producer.send({ topic, messages: [{ key: 'filler', value: 'x', partition: 0 }] });
  } finally {
    await producer.disconnect();
  }
  await waitFor('the cleaner to drop the plaintext copies', async () => {
    const records = await readAll(topic);
    return PLAINTEXT.every((p) => !records.includes(Buffer.from(p))) ? true : undefined;
  }, 120_000, 1000);
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [topic] }));
});

async function readAll(topic: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await readToEnd(kafka, [{ topic }], async ({ message }) => {
    if (message.value !== null) parts.push(Buffer.from(message.value));
  });
  return Buffer.concat(parts);
}

