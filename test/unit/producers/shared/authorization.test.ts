// The shared authorization rule every decider applies first.
import { actsAsOwner, authorize } from '../../../../producers/shared/authorization';
import { COMMAND_ROLES } from '../../../../producers/shared/permissions';
import type { DomainCommand } from '../../../../schemas/messages';
import { actor } from '../../../support/decider-spec';

const COMMAND_TYPES = Object.keys(COMMAND_ROLES) as DomainCommand['type'][];

describe('authorize', () => {
  it.each(COMMAND_TYPES)('trusts a null actor for %s', (type) => {
    expect(authorize(null, type, () => null, 'thing')).toBeNull();
  });
  it.each(COMMAND_TYPES)('lets an admin issue %s on anything, owned by anyone or nobody', (type) => {
    expect(authorize(actor('admin-1', 'admin'), type, () => null, 'thing')).toBeNull();
  });
  it.each(COMMAND_TYPES)('forbids %s to an actor whose roles COMMAND_ROLES does not list', (type) => {
    const roles = ['customer', 'kitchen', 'courier', 'manager', 'admin', 'system'].filter((r) => !(COMMAND_ROLES[type] as readonly string[]).includes(r));
    expect(authorize(actor('someone', ...roles), type, () => 'someone', 'thing')).toMatchObject({ outcome: 'rejected', rejection: { code: 'forbidden' } });
  });
  it('binds a customer to what they own and asks for the owner only then', () => {
    const owner = jest.fn(() => 'c-ada');
    expect(authorize(actor('c-ada', 'customer'), 'PlaceOrder', owner, 'orders')).toBeNull();
    expect(authorize(actor('c-bob', 'customer'), 'PlaceOrder', owner, 'orders')).toMatchObject({ rejection: { code: 'forbidden' } });
    expect(owner).toHaveBeenCalledTimes(2);
    authorize(actor('k-1', 'kitchen'), 'StartPreparation', owner, 'orders');
    expect(owner).toHaveBeenCalledTimes(2);
  });
  it('forbids a customer what nobody owns', () => {
    expect(authorize(actor('c-ada', 'customer'), 'PlaceOrder', () => null, 'orders')).toMatchObject({ rejection: { code: 'forbidden' } });
  });
});

describe('actsAsOwner', () => {
  it('is true when the customer role is the only one granting the command', () => {
    expect(actsAsOwner(actor('c', 'customer'), 'CancelOrder')).toBe(true);
    expect(actsAsOwner(actor('c', 'customer', 'kitchen'), 'CancelOrder')).toBe(true);
  });
  it('is false when a staff or system role grants it too', () => {
    expect(actsAsOwner(actor('c', 'customer', 'manager'), 'CancelOrder')).toBe(false);
    expect(actsAsOwner(actor('c', 'customer', 'admin'), 'PlaceOrder')).toBe(false);
    expect(actsAsOwner(actor('f', 'system'), 'CancelOrder')).toBe(false);
  });
});
