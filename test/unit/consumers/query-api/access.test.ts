// Who may read what on the query API (consumers/query-api/access.ts): a role
// that may never use a route is refused (403); a customer sees only their own
// customer and orders (anything else answers like an unknown id, 404).
import { mayRead, READ_ROLES, seesCustomer, seesOrder, type ReadRoute } from '../../../../consumers/query-api/access';
import type { Principal } from '../../../../infra/auth/principal';
import { ROLES, type Role } from '../../../../schemas/roles';

const as = (roles: readonly Role[], subject = 'someone'): Principal => ({ subject, roles });

describe('mayRead', () => {
  const expected: Record<ReadRoute, readonly Role[]> = {
    menu: ['customer', 'kitchen', 'courier', 'manager', 'admin'],
    customer: ['customer', 'admin'],
    orders: ['customer', 'kitchen', 'courier', 'manager', 'admin'],
    kitchen: ['kitchen', 'manager', 'admin'],
    courier: ['courier', 'manager', 'admin'],
    stats: ['manager', 'admin'],
    parked: ['manager', 'admin'],
  };
  const grid = (Object.keys(expected) as ReadRoute[]).flatMap((route) => ROLES.map((role) => ({ route, role, allowed: expected[route].includes(role) })));

  it.each(grid)('$route as $role: $allowed', ({ route, role, allowed }) => {
    expect(mayRead(as([role]), route)).toBe(allowed);
  });

  it('nothing for a token without roles', () => {
    for (const route of Object.keys(READ_ROLES) as ReadRoute[]) expect(mayRead(as([]), route)).toBe(false);
  });
});

describe('ownership', () => {
  it('a customer sees their own customer record and nobody else’s; admin sees all', () => {
    expect(seesCustomer(as(['customer'], 'c-1'), 'c-1')).toBe(true);
    expect(seesCustomer(as(['customer'], 'c-1'), 'c-2')).toBe(false);
    expect(seesCustomer(as(['admin'], 'ops'), 'c-2')).toBe(true);
    expect(seesCustomer(as(['manager'], 'c-2'), 'c-2')).toBe(false);
  });

  it('a customer sees their own orders; kitchen, courier, manager and admin see every order', () => {
    expect(seesOrder(as(['customer'], 'c-1'), 'c-1')).toBe(true);
    expect(seesOrder(as(['customer'], 'c-1'), 'c-2')).toBe(false);
    for (const role of ['kitchen', 'courier', 'manager', 'admin'] as const) expect(seesOrder(as([role], 'staff'), 'c-2')).toBe(true);
  });
});
