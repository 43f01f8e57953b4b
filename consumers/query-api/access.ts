// Who may read what (docs/security.md, "Query API"):
//
//   /menu                                any authenticated role
//   /customers/:id, /customers/:id/orders   the customer themself, or admin
//   /orders/:id                          its owning customer, kitchen, courier, manager, admin
//   /kitchen/queue                       kitchen, manager, admin
//   /courier/queue                       courier, manager, admin
//   /live/...                            as the GET the stream follows (docs/live-updates.md)
//   /stats/*                             manager, admin
//   /parked                              manager, admin (operations: which aggregates a failing projection parked)
//
// A role that may never use a route gets 403. A customer asking for another
// customer's profile, orders or order gets exactly the 404 an unknown id gets,
// so whether it exists does not leak.
//
// Pure: no express, no Redis.
import type { Principal } from '../../infra/auth/principal';
import { ROLES, type Role } from '../../schemas/roles';

export type ReadRoute = 'menu' | 'customer' | 'orders' | 'kitchen' | 'courier' | 'stats' | 'parked';

export const READ_ROLES: { readonly [R in ReadRoute]: readonly Role[] } = {
  menu: ROLES,
  // a customer's profile and their list of orders
  customer: ['customer', 'admin'],
  // one order
  orders: ['customer', 'kitchen', 'courier', 'manager', 'admin'],
  kitchen: ['kitchen', 'manager', 'admin'],
  courier: ['courier', 'manager', 'admin'],
  stats: ['manager', 'admin'],
  parked: ['manager', 'admin'],
};

export function mayRead(principal: Principal, route: ReadRoute): boolean {
  return principal.roles.some((role) => READ_ROLES[route].includes(role));
}

/** Whether the principal sees customer `customerId`'s profile and order list: their own, or anyone's as admin. */
export function seesCustomer(principal: Principal, customerId: string): boolean {
  return principal.roles.includes('admin') || (principal.roles.includes('customer') && principal.subject === customerId);
}

/** Whether the principal sees an order of `ownerId`: staff see every order, a customer only their own. */
export function seesOrder(principal: Principal, ownerId: string): boolean {
  const staff = principal.roles.some((role) => role !== 'customer' && READ_ROLES.orders.includes(role));
  return staff || (principal.roles.includes('customer') && principal.subject === ownerId);
}
