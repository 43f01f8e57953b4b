// Which fields the migration of data written before encryption seals, and whose key it uses (app/privacy-migration/migration.ts, migration-snapshots.ts).
import { newDataKey, open } from '../../../../infra/privacy/crypto';
import { erase, ownerOf, sealRecord, sealWith } from '../../../../app/privacy-migration/migration';
import { sealCustomerSnapshot, sealOrderSnapshot } from '../../../../app/privacy-migration/migration-snapshots';

const metadata = (aggregateId: string, roles: string[] | null) => ({ aggregateId, actor: roles === null ? null : { subject: 'someone', roles } });
const address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };

describe('sealing old events', () => {
  const key = newDataKey('c1');

  it('seals an order\'s placed address with its customer\'s key, found from OrderOpened', () => {
    const owners = new Map<string, string>();
    expect(ownerOf('order', { metadata: metadata('o1', null), customerId: 'c1' }, owners)).toBe('c1');
    expect(ownerOf('order', { metadata: metadata('o1', null) }, owners)).toBe('c1');
    const sealed = sealRecord('OrderPlaced', { metadata: metadata('o1', null), deliveryAddress: address }, sealWith(key));
    const placed = sealed?.deliveryAddress as typeof address;
    expect(open(key, 'address.postalCode', placed.postalCode)).toBe('1012 JS');
    expect(placed.line2).toBeNull();
    expect(placed.country).toBe('NL');
    // Already sealed: nothing to do.
    expect(sealRecord('OrderPlaced', { metadata: metadata('o1', null), deliveryAddress: placed }, sealWith(key))).toBeUndefined();
  });

  it('seals a cancellation reason only when the customer wrote it', () => {
    expect(sealRecord('OrderCancelled', { metadata: metadata('o1', ['customer']), reason: 'Too slow' }, sealWith(key))?.reason).not.toBe('Too slow');
    expect(sealRecord('OrderCancelled', { metadata: metadata('o1', ['manager']), reason: 'Kitchen closed' }, sealWith(key))).toBeUndefined();
    expect(sealRecord('OrderCancelled', { metadata: metadata('o1', ['system']), reason: 'payment declined' }, sealWith(key))).toBeUndefined();
  });

  it('erases a forgotten customer\'s data instead, and leaves events without personal data alone', () => {
    expect(sealRecord('CustomerSignedUp', { metadata: metadata('c1', null), name: 'Ada', email: 'ada@example.com' }, erase)).toMatchObject({ name: '[forgotten]', email: '[forgotten]' });
    expect(sealRecord('CustomerSignedUp', { metadata: metadata('c1', null), name: '[forgotten]', email: '[forgotten]' }, erase)).toBeUndefined();
    expect(sealRecord('OrderConfirmed', { metadata: metadata('o1', null) }, sealWith(key))).toBeUndefined();
    expect(sealRecord('DeliveryAddressRemoved', { metadata: metadata('c1', null), addressId: 'home' }, sealWith(key))).toBeUndefined();
  });
});

describe('sealing old snapshots', () => {
  const key = newDataKey('c1');
  const customer = { customerId: 'c1', version: 3, name: 'Ada', email: 'ada@example.com', addresses: [{ addressId: 'home', address }], recentCommands: [], forgotten: false };
  const order = { orderId: 'o1', version: 7, customerId: 'c1', status: 'CANCELLED' as const, lines: [], deliveryAddress: address, reason: 'Too slow', recentCommands: [] };

  it('seals a customer snapshot\'s name, e-mail and saved addresses, keeping the rest, and leaves a sealed one alone', () => {
    const sealed = sealCustomerSnapshot(customer, sealWith(key));
    if (sealed === undefined) throw new Error('a plaintext snapshot is re-sealed');
    expect(open(key, 'name', sealed.name)).toBe('Ada');
    expect(open(key, 'email', sealed.email)).toBe('ada@example.com');
    expect(open(key, 'address.line1', sealed.addresses[0]?.address.line1 ?? '')).toBe('Dam 1');
    expect({ ...sealed, name: 'Ada', email: 'ada@example.com', addresses: customer.addresses }).toEqual(customer);
    expect(sealCustomerSnapshot(sealed, sealWith(key))).toBeUndefined();
  });

  it('takes an order snapshot\'s reason from its event: sealed when the customer wrote it, readable when staff did', () => {
    const sealedReason = sealRecord('OrderCancelled', { metadata: metadata('o1', ['customer']), reason: 'Too slow' }, sealWith(key))?.reason as string;
    const own = sealOrderSnapshot(order, sealWith(key), sealedReason);
    expect(own?.reason).toBe(sealedReason);
    expect(open(key, 'address.city', own?.deliveryAddress?.city ?? '')).toBe('Amsterdam');
    const staffs = sealOrderSnapshot({ ...order, reason: 'Kitchen closed' }, sealWith(key), 'Kitchen closed');
    expect(staffs?.reason).toBe('Kitchen closed');
    expect(sealOrderSnapshot({ ...order, deliveryAddress: null, reason: 'Kitchen closed' }, sealWith(key), 'Kitchen closed')).toBeUndefined();
  });
});
