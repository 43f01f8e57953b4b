// The gateway seals personal data before any command leaves it, keys e-mail
// reservations by a keyed hash, and forgets (docs/privacy.md).
import { randomBytes } from 'node:crypto';
import { emailReservationId, newDataKey, open, type DataKey } from '../../../../infra/privacy/crypto';
import { CustomerForgottenError } from '../../../../infra/privacy/key-store';
import type { GatewayPrivacy } from '../../../../producers/gateway/personal-data';
import { accepted, rejected, startGateway, type GatewayHarness } from '../../../support/gateway';

/** The privacy layer in memory: one key per customer, created on demand. */
class MemoryPrivacy implements GatewayPrivacy {
  readonly secret = randomBytes(32);
  readonly keys = new Map<string, { key: DataKey; reservations: string[] }>();
  readonly forgotten = new Set<string>();
  readonly owners = new Map<string, string>([['order-9', 'cust-9']]);
  reservationId(email: string): string {
    return emailReservationId(this.secret, email);
  }
  async sealingKey(customerId: string, options: { readonly emailReservation?: string } = {}): Promise<DataKey> {
    if (this.forgotten.has(customerId)) throw new CustomerForgottenError('forgotten');
    const entry = this.keys.get(customerId) ?? { key: newDataKey(customerId), reservations: [] };
    if (options.emailReservation !== undefined) entry.reservations.push(options.emailReservation);
    this.keys.set(customerId, entry);
    return entry.key;
  }
  async emailReservationsOf(customerId: string): Promise<readonly string[]> {
    return this.keys.get(customerId)?.reservations ?? [];
  }
  async forget(customerId: string): Promise<void> {
    this.forgotten.add(customerId);
    this.keys.delete(customerId);
  }
  async orderOwner(orderId: string): Promise<string | undefined> {
    return this.owners.get(orderId);
  }
}

let gw: GatewayHarness;
let privacy: MemoryPrivacy;
beforeEach(async () => {
  privacy = new MemoryPrivacy();
  gw = await startGateway({ privacy });
});
afterEach(async () => {
  await gw.close();
});

const address = { line1: ' Dam 1 ', line2: '', city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const sent = (): string => JSON.stringify(gw.bus.sent);

describe('the gateway with encryption on', () => {
  it('signs up with the name and e-mail sealed and the reservation keyed by the HMAC of the address', async () => {
    const res = await gw.post('/customers', { name: ' Ada Lovelace ', email: ' Ada@Example.COM ' }, await gw.as('customer', 'cust-1'));
    expect(res.status).toBe(201);
    expect(sent()).not.toMatch(/Lovelace|Example\.COM|example\.com/);
    const [reserve, signUp] = gw.bus.sent;
    expect(reserve?.metadata.aggregateId).toBe(privacy.reservationId('ada@example.com'));
    const key = privacy.keys.get('cust-1')?.key;
    if (key === undefined || signUp?.command.type !== 'SignUpCustomer') throw new Error('expected a key and a sign-up');
    expect(open(key, 'name', signUp.command.data.name)).toBe('Ada Lovelace');
    expect(open(key, 'email', signUp.command.data.email)).toBe('Ada@Example.COM');
    expect(privacy.keys.get('cust-1')?.reservations).toEqual([privacy.reservationId('ada@example.com')]);
  });

  it('seals addresses (normalised first) and names, and a customer\'s own cancellation reason; not staff\'s', async () => {
    const me = await gw.as('customer', 'cust-1');
    expect((await gw.post('/customers/cust-1/addresses', { addressId: 'home', address }, me)).status).toBe(200);
    expect((await gw.post('/customers/cust-1/name', { name: 'Ada King' }, me)).status).toBe(200);
    expect((await gw.post('/orders/order-1/delivery-address', { address }, me)).status).toBe(200);
    expect((await gw.post('/orders/order-1/cancel', { reason: 'Changed my mind' }, me)).status).toBe(200);
    expect((await gw.post('/orders/order-2/cancel', { reason: 'Kitchen closed' })).status).toBe(200);
    expect(sent()).not.toMatch(/Dam 1|Amsterdam|1012|Ada King|Changed my mind/);
    expect(sent()).toContain('Kitchen closed');
    const key = privacy.keys.get('cust-1')?.key;
    const added = gw.bus.sent[0]?.command;
    if (key === undefined || added?.type !== 'AddDeliveryAddress') throw new Error('expected an address');
    expect(open(key, 'address.line1', added.data.address.line1)).toBe('Dam 1');
    expect(added.data.address.line2).toBeNull();
    expect(added.data.address.country).toBe('NL');
  });

  it('seals an address staff set with the order\'s customer\'s key; an unknown order is 404 and nothing is sent', async () => {
    expect((await gw.post('/orders/order-9/delivery-address', { address })).status).toBe(200);
    const set = gw.bus.sent[0]?.command;
    const key = privacy.keys.get('cust-9')?.key;
    if (key === undefined || set?.type !== 'SetDeliveryAddress') throw new Error('expected an address');
    expect(open(key, 'address.city', set.data.address.city)).toBe('Amsterdam');
    const unknown = await gw.post('/orders/order-404/delivery-address', { address });
    expect(unknown.status).toBe(404);
    expect(gw.bus.sent).toHaveLength(1);
  });

  it('forgets: ForgetCustomer, then the reservation released, then the keys destroyed; afterwards 409 customer_forgotten', async () => {
    const me = await gw.as('customer', 'cust-1');
    await gw.post('/customers', { name: 'Ada', email: 'ada@example.com' }, me);
    gw.bus.sent.length = 0;
    const res = await gw.post('/customers/cust-1/forget', undefined, me);
    expect(res.status).toBe(200);
    expect(gw.bus.sent.map((e) => [e.command.type, e.metadata.aggregateId])).toEqual([
      ['ForgetCustomer', 'cust-1'],
      ['ReleaseEmail', privacy.reservationId('ada@example.com')],
    ]);
    expect(privacy.forgotten.has('cust-1')).toBe(true);
    const again = await gw.post('/customers/cust-1/name', { name: 'Back' }, me);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'customer_forgotten' } });
  });

  it('keeps the keys when ForgetCustomer is refused', async () => {
    gw.bus.on('ForgetCustomer', (e) => rejected(e, 'forbidden', 0));
    const res = await gw.post('/customers/cust-1/forget', undefined, await gw.as('customer', 'cust-1'));
    expect(res.status).toBe(403);
    expect(privacy.forgotten.size).toBe(0);
    gw.bus.on('ForgetCustomer', (e) => accepted(e, 2));
  });
});
