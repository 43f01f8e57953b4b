import { customersKeys } from '../../../../../consumers/projections/customers/customers.keys';
import { customersProjection } from '../../../../../consumers/projections/customers/customers.projection';
import { customerView } from '../../../../../consumers/projections/customers/customers.query';
import type { MemoryStore } from '../../../../../consumers/projections/shared/memory-store';
import type { Address } from '../../../../../schemas/generated/types';
import type { CustomerEvent } from '../../../../../schemas/messages';
import { fold, history, KS, MINUTE, T0 } from '../../../../support/projection-spec';

const keys = customersKeys(KS);
const home: Address = { line1: 'Dam 1', line2: null, city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' };
const work: Address = { line1: 'Zuidas 5', line2: '3rd floor', city: 'Amsterdam', postalCode: '1082 MA', country: 'NL' };
const gym: Address = { line1: 'Museumplein 2', line2: null, city: 'Amsterdam', postalCode: '1071 DJ', country: 'NL' };

const ada = history<CustomerEvent>('c-ada', [
  [{ type: 'CustomerSignedUp', data: { name: 'Ada', email: 'ada@example.com' } }, T0],
  [{ type: 'DeliveryAddressAdded', data: { addressId: 'work', address: work } }, T0 + MINUTE],
  [{ type: 'DeliveryAddressAdded', data: { addressId: 'home', address: home } }, T0 + 2 * MINUTE],
  [{ type: 'DeliveryAddressAdded', data: { addressId: 'gym', address: gym } }, T0 + 3 * MINUTE],
  [{ type: 'DeliveryAddressRemoved', data: { addressId: 'gym' } }, T0 + 4 * MINUTE],
  [{ type: 'CustomerNameChanged', data: { name: 'Ada Lovelace' } }, T0 + 5 * MINUTE],
]);

const read = (store: MemoryStore, id: string) => customerView(store.hgetall(keys.profile(id)), store.hgetall(keys.addresses(id)));

describe('customers projection', () => {
  it('keeps the profile and the saved addresses in the order they were added', () => {
    const { store } = fold(customersProjection, ada);
    expect(read(store, 'c-ada')).toEqual({
      customerId: 'c-ada',
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      signedUpAt: T0,
      forgotten: false,
      addresses: [
        { addressId: 'work', address: work, addedAt: T0 + MINUTE },
        { addressId: 'home', address: home, addedAt: T0 + 2 * MINUTE },
      ],
    });
    expect(read(store, 'c-nobody')).toBeNull();
  });

  it('drops the personal data of a forgotten customer: placeholders, no addresses', () => {
    const forgotten = history<CustomerEvent>('c-ada', [
      ...ada.map((r) => [r.event, r.metadata.occurredAt] as const),
      [{ type: 'CustomerForgotten', data: {} }, T0 + 6 * MINUTE],
    ]);
    const { store } = fold(customersProjection, forgotten);
    expect(read(store, 'c-ada')).toEqual({ customerId: 'c-ada', name: '[forgotten]', email: '[forgotten]', signedUpAt: T0, forgotten: true, addresses: [] });
    expect(JSON.stringify(store.dump())).not.toMatch(/Ada|ada@|Dam 1|Zuidas/);
  });

  it('gives the same read model when the history is delivered twice', () => {
    const { store } = fold(customersProjection, ada);
    const once = store.dump();
    expect(fold(customersProjection, ada, store).report).toEqual({ applied: 0, skipped: 6, ignored: 0 });
    expect(store.dump()).toEqual(once);
  });

  it('does not bring back a removed address or an old name when older versions arrive late', () => {
    const { store } = fold(customersProjection, ada);
    const gymAdded = ada[3];
    if (gymAdded === undefined) throw new Error('fixture');
    const late = history<CustomerEvent>('c-ada', [[{ type: 'CustomerNameChanged', data: { name: 'Old name' } }, T0]], 2);
    expect(fold(customersProjection, [gymAdded, ...late], store).report).toEqual({ applied: 0, skipped: 2, ignored: 0 });
    expect(read(store, 'c-ada')?.name).toBe('Ada Lovelace');
    expect(read(store, 'c-ada')?.addresses.map((a) => a.addressId)).toEqual(['work', 'home']);
  });
});
