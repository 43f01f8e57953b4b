/**
 * Key loss is not data loss (docs/privacy.md, "Opening on the query side"),
 * against the real stack: the gateway seals with the right master key, while
 * the query API is started with a wrong one, as after a misconfigured secret
 * or a KMS handing out another key. Its key cache then reads every data key
 * but can unwrap none of them. Projections keep applying events (they hold no
 * keys), the orders move on and the query API shows them moving, every
 * personal field reads "[unavailable]", and the log says so once per customer,
 * however often they are queried. A query API restarted with the right master
 * key shows the values again, from the same documents.
 */
import { randomBytes } from 'node:crypto';
import { bearer } from '../support/auth';
import { call, seeded, type Reply } from '../support/http';
import { unique } from '../support/kafka';
import { waitFor } from '../../infra/wait-for';
import { person, type Person } from '../support/privacy';
import { startRole, type RoleProcess } from '../../app/chaos/role-process';
import type { Role } from '../../app/roles';

jest.setTimeout(300_000);

const run = unique('keyloss').toLowerCase();
const random = seeded(Number.parseInt(run.replace(/\D/g, '').slice(-8) || '1', 10));
const CUSTOMERS = 3;
const UNAVAILABLE_LOG = 'personal data unavailable';
const env = { COMMAND_WAIT_MS: '20000', LOG_FORMAT: 'json', LOG_LEVEL: 'info' };
const started: RoleProcess[] = [];
let commands: RoleProcess;

async function start(role: Role, extra: Record<string, string> = {}): Promise<RoleProcess> {
  const r = await startRole(role, { ...env, ...extra }, { keepChars: 5_000_000 });
  started.push(r);
  return r;
}

beforeAll(async () => {
  [commands] = await Promise.all([start('commands'), start('projectors')]);
});

afterAll(async () => {
  await Promise.all(started.map((r) => r.stop().catch(() => null)));
});

async function ok(path: string, body: unknown, auth: Record<string, string>, status = 200): Promise<Reply> {
  const reply = await call(commands.url, 'POST', path, body, auth);
  if (reply.status !== 202) {
    if (reply.status !== status) throw new Error(`${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    return reply;
  }
  const commandId = reply.body.commandId as string;
  return waitFor(`the outcome of ${path}`, async () => {
    const r = await call(commands.url, 'GET', `/commands/${commandId}`);
    if (r.status !== 200 || r.body.status === 'pending') return undefined;
    if (r.body.status !== 'accepted') throw new Error(`${path} was ${String(r.body.status)}: ${JSON.stringify(r.body)}`);
    return r;
  }, 60_000, 250);
}

/** The query API's answer once `ready` holds for it. */
const queried = (api: RoleProcess, path: string, what: string, ready: (body: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
  waitFor(what, async () => {
    const r = await call(api.url, 'GET', path);
    return r.status === 200 && ready(r.body) ? r.body : undefined;
  }, 60_000, 300);

/** The key cache's "unavailable" warnings in a role's JSON log, counted by customer id. */
function unavailableLogged(role: RoleProcess): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of role.output().split('\n')) {
    if (!line.includes(UNAVAILABLE_LOG)) continue;
    const entry = JSON.parse(line) as { customerId?: string };
    counts.set(entry.customerId ?? '', (counts.get(entry.customerId ?? '') ?? 0) + 1);
  }
  return counts;
}

const UNAVAILABLE_ADDRESS = { line1: '[unavailable]', line2: '[unavailable]', city: '[unavailable]', postalCode: '[unavailable]', country: 'NL' };

it('keeps projecting without the keys, masks personal fields as unavailable, logs once per customer, and shows them again once the keys are back', async () => {
  // A query API whose master key is not the one that wrapped the data keys: every key it reads fails to unwrap.
  const wrongKeys = await start('query', { PRIVACY_MASTER_KEY: randomBytes(32).toString('base64') });
  const dish = (await ok('/menu/items', { name: `Key loss dish ${run}`, description: 'e2e', category: 'MAIN', price: { amountMinor: 900, currency: 'EUR' } }, {}, 201)).body.aggregateId as string;

  const customers: { id: string; who: Person; orderId: string }[] = [];
  for (let i = 0; i < CUSTOMERS; i += 1) {
    const id = `${run}-c${i}`;
    const who = person(random, i);
    const auth = await bearer('customer', id);
    await ok('/customers', { name: who.name, email: who.email }, auth, 201);
    await ok(`/customers/${id}/addresses`, { addressId: 'home', address: who.address }, auth);
    const orderId = (await ok('/orders', { customerId: id }, auth, 201)).body.aggregateId as string;
    await ok(`/orders/${orderId}/items`, { menuItemId: dish, quantity: 2 }, auth);
    await ok(`/orders/${orderId}/delivery-address`, { address: who.address }, auth);
    await ok(`/orders/${orderId}/place`, {}, auth);
    customers.push({ id, who, orderId });
  }

  for (const c of customers) {
    const profile = await queried(wrongKeys, `/customers/${c.id}`, `customer ${c.id} projected`, (b) => (b.addresses as unknown[]).length === 1);
    expect(profile).toMatchObject({ customerId: c.id, name: '[unavailable]', email: '[unavailable]', forgotten: false, addresses: [{ addressId: 'home', address: UNAVAILABLE_ADDRESS }] });
    const placed = await queried(wrongKeys, `/orders/${c.orderId}`, `order ${c.orderId} placed`, (b) => b.status === 'PLACED');
    expect(placed).toMatchObject({ customerId: c.id, deliveryAddress: UNAVAILABLE_ADDRESS, total: { amountMinor: 1800, currency: 'EUR' } });
  }

  // The orders move on without the keys: projections apply the events, the query API shows the new status.
  for (const c of customers) await ok(`/orders/${c.orderId}/confirm`, {}, {});
  for (const c of customers) {
    const confirmed = await queried(wrongKeys, `/orders/${c.orderId}`, `order ${c.orderId} confirmed`, (b) => b.status === 'CONFIRMED');
    expect(confirmed.deliveryAddress).toEqual(UNAVAILABLE_ADDRESS);
    // Asked again and again: still one warning per customer.
    for (let i = 0; i < 3; i += 1) expect((await call(wrongKeys.url, 'GET', `/customers/${c.id}`)).body.name).toBe('[unavailable]');
  }
  const warned = unavailableLogged(wrongKeys);
  for (const c of customers) expect(warned.get(c.id)).toBe(1);
  // The warning names the customer, never a value.
  for (const c of customers) expect(wrongKeys.output()).not.toContain(c.who.name);
  await wrongKeys.stop();

  // The right master key is back: the same documents show the values, and nothing is reported unavailable.
  const rightKeys = await start('query');
  for (const c of customers) {
    const profile = await queried(rightKeys, `/customers/${c.id}`, `customer ${c.id} readable`, (b) => b.name !== '[unavailable]');
    expect(profile).toMatchObject({ name: c.who.name, email: c.who.email, addresses: [{ addressId: 'home', address: c.who.address }] });
    expect((await call(rightKeys.url, 'GET', `/orders/${c.orderId}`)).body).toMatchObject({ status: 'CONFIRMED', deliveryAddress: c.who.address });
  }
  expect([...unavailableLogged(rightKeys).keys()].filter((id) => id.startsWith(run))).toEqual([]);
});
