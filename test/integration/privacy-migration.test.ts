// The one-off migration of data written before encryption (app/privacy-migration/migration*.ts).
// 1. On a topic written the old way: every plaintext personal field is re-written
//    sealed under the event's own key, a forgotten customer's erased; after the
//    log cleaner has run, no plaintext is left in the topic; a second run writes nothing.
// 2. The whole job (npm run privacy:migrate) on the real topics, after a gateway
//    with encryption off signed a customer up, saved an address and had an
//    order placed and cancelled in the customer's words: the live (latest)
//    records of the e-mail reservation events and snapshots, the customer and
//    order snapshots and events hold none of it in plaintext (the reservation
//    re-keyed by the keyed hash, the old records tombstoned, the snapshots
//    re-sealed); and the processor, restarted on the migrated state, still
//    decides: the address is taken for another sign-up, the customer carries on,
//    and forgetting them releases the re-keyed reservation.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AvroCodec } from '../../infra/kafka/codec';
import { emailReservationId } from '../../infra/privacy/crypto';
import { latestRecords } from '../../app/privacy-migration/migration-snapshots';
import { privacySecrets } from '../../infra/privacy/settings';
import { repoRoot } from '../../infra/stack/settings';
import type { EmailReservationSnapshot } from '../../schemas/generated/types';
import { normalizeEmail } from '../../schemas/validation';
import { topicName } from '../../schemas/topics';
import { bearer } from '../support/auth';
import { call, seeded, type Reply } from '../support/http';
import { needles, person } from '../support/privacy';
import { roleEntryPoint, startRole, type RoleProcess } from '../../app/chaos/role-process';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { newDataKey, open, type DataKey } from '../../infra/privacy/crypto';
import { erase, migrateEventTopic, sealWith } from '../../app/privacy-migration/migration';
import type { EventMetadata } from '../../schemas/generated/types';
import { eventKey } from '../../schemas/partitioning';
import { createTopicsAndWait, testKafka, testRegistry, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';

jest.setTimeout(300_000);

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
  await createTopicsAndWait(kafka, [{ topic, numPartitions: 1, configEntries: [
    { name: 'cleanup.policy', value: 'compact' },
    { name: 'segment.ms', value: '100' },
    { name: 'min.cleanable.dirty.ratio', value: '0.01' },
    { name: 'min.compaction.lag.ms', value: '0' },
  ] }]);
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
  // A segment rolls on an append that comes 100 ms after it began: a filler on every look rolls the segment
  // holding the re-writes for certain (one filler sent within 100 ms of them left them in the active segment,
  // which the cleaner never touches).
  const filler = kafka.producer();
  await filler.connect();
  try {
    await waitFor('the cleaner to drop the plaintext copies', async () => {
      await filler.send({ topic, messages: [{ key: 'filler', value: 'x', partition: 0 }] });
      const records = await readAll(topic);
      return PLAINTEXT.every((p) => !records.includes(Buffer.from(p))) ? true : undefined;
    }, 120_000, 1000);
  } finally {
    await filler.disconnect();
  }
  await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [topic] }));
});

async function readAll(topic: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await readToEnd(kafka, [{ topic }], async ({ message }) => {
    if (message.value !== null) parts.push(Buffer.from(message.value));
  });
  return Buffer.concat(parts);
}


/** A command through `gateway`, followed to its outcome: 200 accepted, 409 rejected (or the gateway's own answer). */
async function send(gateway: RoleProcess, path: string, body: unknown, auth: Record<string, string> = {}): Promise<Reply> {
  const reply = await call(gateway.url, 'POST', path, body, auth);
  if (reply.status !== 202) return reply;
  const commandId = reply.body.commandId as string;
  return waitFor(`the outcome of ${path}`, async () => {
    const r = await call(gateway.url, 'GET', `/commands/${commandId}`);
    if (r.status !== 200 || r.body.status === 'pending') return undefined;
    return { ...r, status: r.body.status === 'accepted' ? 200 : 409 };
  }, 60_000, 250);
}

async function ok(gateway: RoleProcess, path: string, body: unknown, auth: Record<string, string> = {}, status = 200): Promise<Reply> {
  const r = await send(gateway, path, body, auth);
  if (r.status !== status) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r;
}

/** Which of `list` occur in the keys or values of the live (latest, not tombstoned) records of `topic`. */
async function liveOccurrences(topic: string, list: readonly string[]): Promise<string[]> {
  const { latest } = await latestRecords(kafka, topic);
  const bytes = Buffer.concat([...latest.values()].flatMap(({ message }) => [message.key ?? Buffer.alloc(0), message.value]));
  return list.filter((n) => bytes.includes(Buffer.from(n, 'utf8'))).map((n) => `${topic}: ${n}`);
}

it('re-keys e-mail reservations made before hashing and re-seals snapshots, and the migrated state still decides', async () => {
  const run = unique('mig').toLowerCase();
  const random = seeded(Number.parseInt(run.replace(/\D/g, '').slice(-8) || '1', 10));
  const who = person(random, 0);
  const oldId = `${run}-old`;
  const oldAuth = await bearer('customer', oldId);
  const roles: RoleProcess[] = [];
  try {
    // The old way: no encryption, the reservation keyed by the address.
    roles.push(await startRole('command-processor'), await startRole('gateway', { PRIVACY_ENCRYPTION: 'off', COMMAND_WAIT_MS: '20000' }));
    const oldGateway = roles[1] as RoleProcess;
    const dish = (await ok(oldGateway, '/menu/items', { name: `Migration dish ${run}`, description: 'it', category: 'MAIN', price: { amountMinor: 800, currency: 'EUR' } }, {}, 201)).body.aggregateId as string;
    await ok(oldGateway, '/customers', { name: who.name, email: who.email }, oldAuth, 201);
    await ok(oldGateway, `/customers/${oldId}/addresses`, { addressId: 'home', address: who.address }, oldAuth);
    const orderId = (await ok(oldGateway, '/orders', { customerId: oldId }, oldAuth, 201)).body.aggregateId as string;
    await ok(oldGateway, `/orders/${orderId}/items`, { menuItemId: dish, quantity: 1 }, oldAuth);
    await ok(oldGateway, `/orders/${orderId}/delivery-address`, { address: who.address }, oldAuth);
    await ok(oldGateway, `/orders/${orderId}/place`, {}, oldAuth);
    await ok(oldGateway, `/orders/${orderId}/cancel`, { reason: who.reason }, oldAuth);
    const secret = needles(who);
    const reservationTopics = [topicName('email-reservation', 'events'), topicName('email-reservation', 'snapshots')];
    const personalTopics = [...reservationTopics, ...(['customer', 'order'] as const).flatMap((a) => [topicName(a, 'events'), topicName(a, 'snapshots')])];
    // What the old way left: the address in the reservation's records, the rest in the snapshots.
    expect((await liveOccurrences(topicName('email-reservation', 'snapshots'), [normalizeEmail(who.email)])).length).toBe(1);
    expect((await liveOccurrences(topicName('customer', 'snapshots'), [who.name])).length).toBe(1);
    await Promise.all(roles.splice(0).map((r) => r.stop()));

    // The job, as an operator runs it, with the command processor stopped.
    const { stdout } = await promisify(execFile)(process.execPath, roleEntryPoint('app/privacy-migration/migrate-cli'), { cwd: repoRoot, env: process.env });
    expect(stdout).toMatch(/e-mail reservations keyed by the address: \d+ found, [1-9]\d* re-keyed/);

    // No plaintext in any live record: events, snapshots, the reservation's keys and ids.
    const left = (await Promise.all(personalTopics.map((t) => liveOccurrences(t, secret)))).flat();
    expect(left).toEqual([]);
    // The reservation lives on under the keyed hash, held by the same customer.
    const reservationId = emailReservationId((await privacySecrets()).emailSecret, who.email);
    const { latest } = await latestRecords(kafka, topicName('email-reservation', 'snapshots'));
    const migrated = latest.get(reservationId);
    if (migrated === undefined) throw new Error('no snapshot under the keyed hash');
    expect((await codec.decode(migrated.message.value)).value as EmailReservationSnapshot).toMatchObject({ email: reservationId, holderCustomerId: oldId });

    // The processor restores the migrated state and decides on it.
    roles.push(await startRole('command-processor'), await startRole('gateway', { COMMAND_WAIT_MS: '20000' }));
    const gateway = roles[1] as RoleProcess;
    const otherId = `${run}-other`;
    const otherAuth = await bearer('customer', otherId);
    const taken = await send(gateway, '/customers', { name: 'Someone Else', email: who.email.toUpperCase() }, otherAuth);
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'email_taken' });
    await ok(gateway, `/customers/${oldId}/name`, { name: 'Renamed After Migration' }, oldAuth);
    // The reservation was recorded beside the customer's keys: forgetting them releases it.
    await ok(gateway, `/customers/${oldId}/forget`, {}, oldAuth);
    await ok(gateway, '/customers', { name: 'Someone Else', email: who.email }, otherAuth, 201);
  } finally {
    await Promise.all(roles.map((r) => r.stop().catch(() => null)));
  }
});
