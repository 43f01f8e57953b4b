// Who may ask for what: the roles allowed to issue each command. One table
// serves both places that enforce it: the gateway refuses a route whose
// command the caller's roles may not issue (403 before anything is written),
// and every decider checks it again, with ownership, against the aggregate
// (a customer acts only on their own profile and orders), because the
// aggregate is where the owner is known.
//
// `system` is the role of the system's own processes (order fulfilment
// confirms, rejects and cancels orders). `admin` may do everything.
import type { DomainCommand } from '../../schemas/messages';
import { SYSTEM_ROLE, type Role } from '../../schemas/roles';

export type ActingRole = Role | typeof SYSTEM_ROLE;

export const COMMAND_ROLES: { readonly [T in DomainCommand['type']]: readonly ActingRole[] } = {
  // customer: the customer themself (ownership checked by the decider)
  SignUpCustomer: ['customer', 'admin'],
  ChangeCustomerName: ['customer', 'admin'],
  AddDeliveryAddress: ['customer', 'admin'],
  RemoveDeliveryAddress: ['customer', 'admin'],
  // the right to be forgotten: the customer themself, or an admin on their behalf
  ForgetCustomer: ['customer', 'admin'],
  // e-mail reservations: part of a sign-up, so whoever may sign up
  ReserveEmail: ['customer', 'admin'],
  ReleaseEmail: ['customer', 'admin'],
  // menu: managers
  AddMenuItem: ['manager', 'admin'],
  ChangeMenuItemPrice: ['manager', 'admin'],
  MarkMenuItemSoldOut: ['manager', 'admin'],
  MarkMenuItemAvailable: ['manager', 'admin'],
  RemoveMenuItem: ['manager', 'admin'],
  // orders: the customer who opened it fills, places and cancels it
  OpenOrder: ['customer', 'admin'],
  AddItemToOrder: ['customer', 'admin'],
  RemoveItemFromOrder: ['customer', 'admin'],
  SetDeliveryAddress: ['customer', 'admin'],
  PlaceOrder: ['customer', 'admin'],
  CancelOrder: ['customer', 'manager', 'admin', SYSTEM_ROLE],
  // fulfilment decides confirmation after payment: not open to people but admin
  ConfirmOrder: ['admin', SYSTEM_ROLE],
  RejectOrder: ['admin', SYSTEM_ROLE],
  // the kitchen
  StartPreparation: ['kitchen', 'admin'],
  MarkOrderReady: ['kitchen', 'admin'],
  // couriers
  DispatchOrder: ['courier', 'admin'],
  ConfirmDelivery: ['courier', 'admin'],
};

/** Whether any of `roles` may issue a command of this type. */
export function mayIssue(roles: readonly string[], commandType: DomainCommand['type']): boolean {
  const allowed: readonly string[] = COMMAND_ROLES[commandType];
  return roles.some((role) => allowed.includes(role));
}
