/**
 * The command side's promises to clients, end to end: Idempotency-Key, hostile
 * input that changes nothing, and an events topic that keeps every event
 * through compaction.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { readToEnd } from '../../infra/kafka/read-to-end';
import { allTopicSpecs } from '../../infra/kafka/topics';
import { byAggregate, readEvents } from '../support/events';
import { adminAuthorization, call } from '../support/http';
import { testKafka, unique, withAdmin } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';

const kafka = testKafka('e2e-command-contract');
const roles: RoleProcess[] = [];
let api = '';

beforeAll(async () => {
  roles.push(await startRole('command-processor'));
  const gateway = await startRole('gateway');
  roles.push(gateway);
  api = gateway.url;
});
afterAll(async () => {
  await Promise.all(roles.map((r) => r.stop()));
});

async function commandTopicEnds(): Promise<number> {
  const topics = allTopicSpecs().filter((t) => t.role === 'commands').map((t) => t.name);
  return withAdmin(kafka, async (admin) => {
    let sum = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) sum += Number(p.high);
    return sum;
  });
}

describe('Idempotency-Key', () => {
  it('answers a repeated request with the first outcome and writes one set of events', async () => {
    const key = unique('idem');
    const first = await call(api, 'POST', '/orders', { customerId: 'c-idem' }, { 'Idempotency-Key': key });
    const again = await call(api, 'POST', '/orders', { customerId: 'c-idem' }, { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const orderId = first.body.aggregateId as string;

    const menu = await call(api, 'POST', '/menu/items', { name: 'Idempotent soup', description: '', category: 'STARTER', price: { amountMinor: 500, currency: 'EUR' } });
    const addKey = unique('idem-add');
    const add = () => call(api, 'POST', `/orders/${orderId}/items`, { menuItemId: menu.body.aggregateId, quantity: 2 }, { 'Idempotency-Key': addKey });
    const [a1, a2] = [await add(), await add()];
    expect(a1.status).toBe(200);
    expect(a2.body).toEqual(a1.body);

    const events = byAggregate(await readEvents(kafka, 'restaurant.order.events')).get(orderId) ?? [];
    expect(events.map((e) => [e.type, e.metadata.version])).toEqual([
      ['OrderOpened', 1],
      ['ItemAddedToOrder', 2],
    ]);
  });
});

describe('hostile and malformed input', () => {
  const tenMegabytes = JSON.stringify({ customerId: 'x'.repeat(10 * 1024 * 1024) });
  const cases: Array<[string, string, string, string | undefined, Record<string, string>, number]> = [
    ['wrong types', 'POST', '/menu/items', JSON.stringify({ name: 42, description: [], category: 'MAIN', price: { amountMinor: '950', currency: 'EUR' } }), {}, 400],
    ['a 10 MB body', 'POST', '/orders', tenMegabytes, {}, 413],
    ['unknown fields', 'POST', '/orders', JSON.stringify({ customerId: 'c-1', priority: 'high' }), {}, 400],
    ['a client-set price', 'POST', '/orders/o-1/items', JSON.stringify({ menuItemId: 'm-1', quantity: 1, unitPrice: { amountMinor: 1, currency: 'EUR' } }), {}, 400],
    ['__proto__', 'POST', '/orders', '{"customerId":"c-1","__proto__":{"admin":true}}', {}, 400],
    ['constructor', 'POST', '/orders', '{"customerId":"c-1","constructor":{"prototype":{}}}', {}, 400],
    ['control characters', 'POST', '/customers', JSON.stringify({ name: 'Ada\u0000\u0007', email: 'ada@example.com' }), {}, 400],
    ['a lone surrogate', 'POST', '/customers', '{"name":"Ada \\ud800","email":"ada@example.com"}', {}, 400],
    ['a negative price', 'POST', '/menu/items', JSON.stringify({ name: 'Soup', description: '', category: 'MAIN', price: { amountMinor: -5, currency: 'EUR' } }), {}, 400],
    ['an overflowing number', 'POST', '/menu/items', '{"name":"Soup","description":"","category":"MAIN","price":{"amountMinor":1e400,"currency":"EUR"}}', {}, 400],
    ['a fractional quantity', 'POST', '/orders/o-1/items', JSON.stringify({ menuItemId: 'm-1', quantity: 1.5 }), {}, 400],
    ['a quantity of 100', 'POST', '/orders/o-1/items', JSON.stringify({ menuItemId: 'm-1', quantity: 100 }), {}, 400],
    ['malformed JSON', 'POST', '/orders', '{"customerId": ', {}, 400],
    ['a non-JSON body', 'POST', '/orders', 'customerId=c-1', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
    ['a JSON array', 'POST', '/orders', '[]', {}, 400],
    ['a bad If-Match', 'POST', '/orders/o-1/place', '{}', { 'If-Match': 'yesterday' }, 400],
    ['an unknown route', 'POST', '/orders/o-1/teleport', '{}', {}, 404],
  ];

  it.each(cases)('%s: a 4xx with a clear message', async (_what, method, path, body, headers, status) => {
    const res = await fetch(`${api}${path}`, { method, body, headers: { 'content-type': 'application/json', ...(await adminAuthorization()), ...headers } });
    expect(res.status).toBe(status);
    const reply = (await res.json()) as { error?: { code?: string; message?: string } };
    expect(reply.error?.code).toMatch(/^[a-z_]+$/);
    expect(reply.error?.message?.length ?? 0).toBeGreaterThan(5);
  });

  it('produced nothing for any of them', async () => {
    const before = await commandTopicEnds();
    for (const [, method, path, body, headers] of cases) {
      await fetch(`${api}${path}`, { method, body, headers: { 'content-type': 'application/json', ...(await adminAuthorization()), ...headers } }).then((r) => r.arrayBuffer());
    }
    // Ordinary unicode is fine: this one is accepted, and is the only write.
    const ok = await call(api, 'POST', '/menu/items', { name: 'Crème brûlée 🍮 日本', description: 'ça va', category: 'DESSERT', price: { amountMinor: 700, currency: 'EUR' } });
    expect(ok.status).toBe(201);
    expect(await commandTopicEnds()).toBe(before + 1);
  });
});

describe('the events topic under compaction', () => {
  const topic = 'restaurant.order.events';
  const declared = allTopicSpecs().find((t) => t.name === topic)!.configs;
  const setConfigs = (configs: Record<string, string>) =>
    withAdmin(kafka, (admin) =>
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      }),
    );
  afterAll(() => setConfigs({ ...declared }));

  it('keeps every version of every aggregate after the cleaner has run', async () => {
    // Make the cleaner eager on this topic for the test (restored afterwards).
    // On a long-lived broker the new dirty bytes are a sliver of the partition, so
    // a dirty-ratio threshold may never be met: max.compaction.lag.ms forces it.
    await setConfigs({
      ...declared,
      'segment.ms': '500',
      'min.compaction.lag.ms': '0',
      'max.compaction.lag.ms': '1000',
      'min.cleanable.dirty.ratio': '0.0001',
    });
    const menu = await call(api, 'POST', '/menu/items', { name: 'Compact pie', description: '', category: 'MAIN', price: { amountMinor: 800, currency: 'EUR' } });
    const orders: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const o = await call(api, 'POST', '/orders', { customerId: `compaction-${i}` });
      orders.push(o.body.aggregateId as string);
      expect((await call(api, 'POST', `/orders/${o.body.aggregateId}/items`, { menuItemId: menu.body.aggregateId, quantity: 1 + i })).status).toBe(200);
    }
    // A second write of one version (as a retried producer could make): the one
    // thing compaction may collapse. Its disappearance shows the cleaner ran.
    const all = await readEvents(kafka, topic);
    const victim = all.find((e) => e.metadata.aggregateId === orders[0])!;
    const raw: Array<{ key: string; value: Buffer }> = [];
    await readToEnd(kafka, [{ topic, partitions: [victim.partition] }], ({ message }) => {
      if (message.key?.toString() === victim.key && message.value) raw.push({ key: victim.key, value: message.value });
    });
    const producer = kafka.producer();
    await producer.connect();
    const rewrite = { key: victim.key, value: raw[0]!.value, partition: victim.partition };
    await producer.send({ topic, messages: [rewrite] });
    const copies = async (): Promise<number> => {
      let n = 0;
      await readToEnd(kafka, [{ topic, partitions: [victim.partition] }], ({ message }) => {
        if (message.key?.toString() === victim.key) n += 1;
      });
      return n;
    };
    expect(await copies()).toBeGreaterThanOrEqual(1);
    let tick = 0;
    await waitFor(
      'the log cleaner to collapse the repeated version',
      async () => {
        // Append to the victim's partition so its segment rolls and becomes cleanable:
        // a tombstone for a key no event has, which compaction later removes too.
        await producer.send({ topic, messages: [{ key: `compaction-tick/${tick++}`, value: null, partition: victim.partition }] });
        return (await copies()) === 1 ? true : undefined;
      },
      180_000,
      1000,
    );
    await producer.disconnect();
    const after = byAggregate(await readEvents(kafka, topic));
    for (const id of orders) expect((after.get(id) ?? []).map((e) => e.metadata.version)).toEqual([1, 2]);
    for (const [, list] of after) expect(list.map((e) => e.metadata.version)).toEqual(list.map((_, i) => i + 1));
  });
});
