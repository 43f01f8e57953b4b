import {
  customerDecider,
  evolve,
  fromSnapshot,
  initialState,
  MAX_SAVED_ADDRESSES,
  toSnapshot,
  type CustomerState,
} from '../../../../producers/customer/customer.decider';
import { evolveAll } from '../../../../producers/shared/decider';
import type { Address } from '../../../../schemas/generated/types';
import type { CustomerCommand, CustomerEvent } from '../../../../schemas/messages';
import { newDataKey, seal } from '../../../../infra/privacy/crypto';
import { sealAddress } from '../../../../infra/privacy/personal-data';
import { actor, deciderSpec } from '../../../support/decider-spec';

const { given } = deciderSpec(customerDecider, {}, 'c-ada');

const home: Address = { line1: 'Keizersgracht 1', line2: null, city: 'Amsterdam', postalCode: '1015 CJ', country: 'NL' };
const signedUp: CustomerEvent = { type: 'CustomerSignedUp', data: { name: 'Ada Lovelace', email: 'Ada@Example.com' } };
const homeAdded: CustomerEvent = { type: 'DeliveryAddressAdded', data: { addressId: 'home', address: home } };

describe('SignUpCustomer', () => {
  it('signs up a new customer with trimmed name and email', () => {
    given([])
      .when({ type: 'SignUpCustomer', data: { name: '  Ada Lovelace ', email: ' Ada@Example.com ' } })
      .then([signedUp]);
  });
  it('rejects a customer id that already exists', () => {
    given([signedUp]).when({ type: 'SignUpCustomer', data: { name: 'Ada', email: 'ada@example.com' } }).thenRejects('customer_already_exists');
  });
  it.each(['', '   ', 'x'.repeat(101), 'tab\tname'])('rejects the name %j', (name) => {
    given([]).when({ type: 'SignUpCustomer', data: { name, email: 'ada@example.com' } }).thenRejects('invalid_name');
  });
  it.each(['', 'ada', 'ada@', '@example.com', 'ada@example', 'a da@example.com', 'ada@@example.com', `${'a'.repeat(65)}@example.com`])(
    'rejects the email %j',
    (email) => {
      given([]).when({ type: 'SignUpCustomer', data: { name: 'Ada', email } }).thenRejects('invalid_email');
    },
  );
});

describe('ChangeCustomerName', () => {
  it('renames an existing customer', () => {
    given([signedUp]).when({ type: 'ChangeCustomerName', data: { name: ' Countess Ada ' } }).then([{ type: 'CustomerNameChanged', data: { name: 'Countess Ada' } }]);
  });
  it('accepts the current name as a repeat without events', () => {
    given([signedUp]).when({ type: 'ChangeCustomerName', data: { name: 'Ada Lovelace' } }).thenNothing();
  });
  it('rejects an invalid name', () => {
    given([signedUp]).when({ type: 'ChangeCustomerName', data: { name: ' ' } }).thenRejects('invalid_name');
  });
  it('rejects an unknown customer', () => {
    given([]).when({ type: 'ChangeCustomerName', data: { name: 'Ada' } }).thenRejects('customer_not_found');
  });
});

describe('AddDeliveryAddress', () => {
  it('saves a normalized address', () => {
    given([signedUp])
      .when({ type: 'AddDeliveryAddress', data: { addressId: 'home', address: { ...home, line1: ' Keizersgracht 1 ', line2: '  ' } } })
      .then([homeAdded]);
  });
  it('rejects an unknown customer', () => {
    given([]).when({ type: 'AddDeliveryAddress', data: { addressId: 'home', address: home } }).thenRejects('customer_not_found');
  });
  it('rejects an address id already in use', () => {
    given([signedUp, homeAdded]).when({ type: 'AddDeliveryAddress', data: { addressId: 'home', address: home } }).thenRejects('address_already_exists');
  });
  it.each<[string, string, Address]>([
    ['empty line1', 'home', { ...home, line1: '' }],
    ['empty city', 'home', { ...home, city: ' ' }],
    ['empty postal code', 'home', { ...home, postalCode: '' }],
    ['lower-case country', 'home', { ...home, country: 'nl' }],
    ['an id with spaces', 'my home', home],
    ['an empty id', '', home],
  ])('rejects %s', (_label, addressId, address) => {
    given([signedUp]).when({ type: 'AddDeliveryAddress', data: { addressId, address } }).thenRejects('invalid_address');
  });
  it(`rejects more than ${MAX_SAVED_ADDRESSES} addresses`, () => {
    const full: CustomerEvent[] = Array.from({ length: MAX_SAVED_ADDRESSES }, (_, i) => ({
      type: 'DeliveryAddressAdded',
      data: { addressId: `a${i}`, address: home },
    }));
    given([signedUp, ...full]).when({ type: 'AddDeliveryAddress', data: { addressId: 'one-more', address: home } }).thenRejects('too_many_addresses');
  });
});

describe('RemoveDeliveryAddress', () => {
  it('removes a saved address', () => {
    given([signedUp, homeAdded]).when({ type: 'RemoveDeliveryAddress', data: { addressId: 'home' } }).then([{ type: 'DeliveryAddressRemoved', data: { addressId: 'home' } }]);
  });
  it('rejects an address that is not saved', () => {
    given([signedUp]).when({ type: 'RemoveDeliveryAddress', data: { addressId: 'home' } }).thenRejects('address_not_found');
  });
  it('rejects an unknown customer', () => {
    given([]).when({ type: 'RemoveDeliveryAddress', data: { addressId: 'home' } }).thenRejects('customer_not_found');
  });
});

describe('customer state and snapshots', () => {
  const history: CustomerEvent[] = [
    signedUp,
    homeAdded,
    { type: 'DeliveryAddressAdded', data: { addressId: 'work', address: { ...home, line1: 'Dam 1' } } },
    { type: 'DeliveryAddressRemoved', data: { addressId: 'home' } },
    { type: 'CustomerNameChanged', data: { name: 'Countess Ada' } },
  ];
  const state = evolveAll(evolve, initialState, history);

  it('folds the history into the current profile', () => {
    expect(state).toEqual({ exists: true, forgotten: false, name: 'Countess Ada', email: 'Ada@Example.com', addresses: [{ addressId: 'work', address: { ...home, line1: 'Dam 1' } }] });
  });
  it('round-trips through its snapshot record', () => {
    const snapshot = toSnapshot('c-1', history.length, state);
    expect(snapshot).not.toBeNull();
    if (snapshot !== null) expect(fromSnapshot(snapshot)).toEqual({ aggregateId: 'c-1', version: 5, state });
  });
  it('has no snapshot before sign-up', () => {
    const none: CustomerState = initialState;
    expect(toSnapshot('c-1', 0, none)).toBeNull();
  });
});

describe('who may act on a customer', () => {
  const ada = actor('c-ada', 'customer');
  const bob = actor('c-bob', 'customer');
  const signUp: CustomerCommand = { type: 'SignUpCustomer', data: { name: 'Ada Lovelace', email: 'Ada@Example.com' } };
  const rename: CustomerCommand = { type: 'ChangeCustomerName', data: { name: 'Countess Ada' } };

  it('lets a customer sign up as themself (the customer id is their subject)', () => {
    given([]).as(ada).on('c-ada').when(signUp).then([signedUp]);
  });
  it('forbids a customer to sign up under another id', () => {
    given([]).as(bob).on('c-ada').when(signUp).thenRejects('forbidden');
  });
  it('lets a customer change their own profile', () => {
    given([signedUp]).as(ada).on('c-ada').when(rename).then([{ type: 'CustomerNameChanged', data: { name: 'Countess Ada' } }]);
  });
  it.each<CustomerCommand>([
    rename,
    { type: 'AddDeliveryAddress', data: { addressId: 'work', address: home } },
    { type: 'RemoveDeliveryAddress', data: { addressId: 'home' } },
  ])("forbids another customer's $type", (command) => {
    given([signedUp, homeAdded]).as(bob).on('c-ada').when(command).thenRejects('forbidden');
  });
  it('answers another customer the same whether the customer exists or not, and names nobody', () => {
    const onExisting = given([signedUp]).as(bob).on('c-ada').when(rename).rejectionMessage();
    const onMissing = given([]).as(bob).on('c-ada').when(rename).rejectionMessage();
    expect(onMissing).toBe(onExisting);
    expect(onExisting).not.toMatch(/ada/i);
  });
  it('tells a customer that their own profile does not exist', () => {
    given([]).as(ada).on('c-ada').when(rename).thenRejects('customer_not_found');
  });
  it('binds a customer who also holds a role that may not issue the command', () => {
    given([signedUp]).as(actor('c-bob', 'customer', 'kitchen')).on('c-ada').when(rename).thenRejects('forbidden');
  });
  it('lets an admin act on any customer', () => {
    given([signedUp]).as(actor('admin-1', 'admin', 'customer')).on('c-ada').when(rename).then([{ type: 'CustomerNameChanged', data: { name: 'Countess Ada' } }]);
  });
  it.each([['kitchen'], ['courier'], ['manager'], ['system'], ['no role']])('forbids %s', (role) => {
    given([signedUp]).as(actor('someone', ...(role === 'no role' ? [] : [role]))).on('c-ada').when(rename).thenRejects('forbidden');
  });
  it('trusts a command without an actor (written before actors were recorded)', () => {
    given([]).as(null).on('c-ada').when(signUp).then([signedUp]);
  });
});

describe('sealed personal data and ForgetCustomer (docs/privacy.md)', () => {
  const key = newDataKey('c-ada');
  const sealedName = seal(key, 'name', 'Ada Lovelace');
  const sealedEmail = seal(key, 'email', 'ada@example.com');
  const sealedHome = sealAddress(key, home);

  it('takes sealed names, e-mails and addresses, checking only their shape', () => {
    given([]).when({ type: 'SignUpCustomer', data: { name: sealedName, email: sealedEmail } }).then([{ type: 'CustomerSignedUp', data: { name: sealedName, email: sealedEmail } }]);
    given([signedUp]).when({ type: 'AddDeliveryAddress', data: { addressId: 'home', address: sealedHome } }).then([{ type: 'DeliveryAddressAdded', data: { addressId: 'home', address: sealedHome } }]);
  });

  it('refuses an oversized sealed value and an address whose lines are sealed only in part', () => {
    given([]).when({ type: 'SignUpCustomer', data: { name: seal(key, 'name', 'x'.repeat(2000)), email: sealedEmail } }).thenRejects('invalid_name');
    given([signedUp]).when({ type: 'AddDeliveryAddress', data: { addressId: 'home', address: { ...sealedHome, city: 'Amsterdam' } } }).thenRejects('invalid_address');
  });

  it('forgets a customer once; afterwards every command is refused, a repeat is a no-op', () => {
    const forgotten: CustomerEvent = { type: 'CustomerForgotten', data: {} };
    given([signedUp, homeAdded]).when({ type: 'ForgetCustomer', data: {} }).then([forgotten]);
    given([signedUp, forgotten]).when({ type: 'ForgetCustomer', data: {} }).then([]);
    given([signedUp, forgotten]).when({ type: 'ChangeCustomerName', data: { name: sealedName } }).thenRejects('customer_forgotten');
    given([signedUp, forgotten]).when({ type: 'SignUpCustomer', data: { name: sealedName, email: sealedEmail } }).thenRejects('customer_forgotten');
    // An id that never signed up (it may have orders) is closed too.
    given([]).when({ type: 'ForgetCustomer', data: {} }).then([forgotten]);
  });

  it('keeps nothing personal in a forgotten customer\'s state and snapshot', () => {
    const state: CustomerState = evolveAll(evolve, initialState, [signedUp, homeAdded, { type: 'CustomerForgotten', data: {} }]);
    expect(state).toEqual({ exists: true, forgotten: true, name: '', email: '', addresses: [] });
    const snapshot = toSnapshot('c-ada', 3, state);
    expect(snapshot).toMatchObject({ name: '', email: '', addresses: [], forgotten: true });
    if (snapshot !== null) expect(fromSnapshot(snapshot).state).toEqual(state);
  });

  it('may be asked by the customer themself or an admin, not by another customer or staff', () => {
    given([signedUp]).as(actor('c-bob', 'customer')).when({ type: 'ForgetCustomer', data: {} }).thenRejects('forbidden');
    given([signedUp]).as(actor('m-1', 'manager')).when({ type: 'ForgetCustomer', data: {} }).thenRejects('forbidden');
    given([signedUp]).as(actor('c-ada', 'customer')).when({ type: 'ForgetCustomer', data: {} }).then([{ type: 'CustomerForgotten', data: {} }]);
    given([signedUp]).as(actor('a-1', 'admin')).when({ type: 'ForgetCustomer', data: {} }).then([{ type: 'CustomerForgotten', data: {} }]);
  });
});
