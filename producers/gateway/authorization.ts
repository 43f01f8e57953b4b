// Who may use which gateway route (docs/security.md): the caller's roles must
// be allowed to issue the route's command (COMMAND_ROLES), and a caller acting
// only as a customer acts only as themself: on their own profile
// (/customers/:customerId must be their subject), signing up as their subject,
// and opening orders for their subject. The deciders check ownership of orders
// against the aggregate (where the owner is known); what can be decided from
// the request alone is refused here, before anything is written.
//
// Pure: no express.
import type { Principal } from '../../infra/auth/principal';
import { COMMAND_ROLES, mayIssue } from '../shared/permissions';
import { errorReply, type HttpReply } from './responses';
import type { GatewayRoute } from './routes';

export type RouteDecision =
  | {
      readonly ok: true;
      /** The request body, with a customer's own id filled in where the route needs it (OpenOrder without customerId). */
      readonly body: unknown;
      /** For a customer signing up: the new customer's id, their subject. */
      readonly ownId: string | undefined;
    }
  | { readonly ok: false; readonly reply: HttpReply };

const refuse = (message: string): RouteDecision => ({ ok: false, reply: errorReply(403, 'forbidden', message) });

/** True when the caller may use the route only because they are a customer (no other role of theirs allows it). */
export function actsAsCustomerOnly(principal: Principal, route: GatewayRoute): boolean {
  const allowed: readonly string[] = COMMAND_ROLES[route.commandType];
  return principal.roles.includes('customer') && !principal.roles.some((role) => role !== 'customer' && allowed.includes(role));
}

export function authorizeRoute(principal: Principal, route: GatewayRoute, params: Readonly<Record<string, string | undefined>>, body: unknown): RouteDecision {
  if (!mayIssue(principal.roles, route.commandType)) {
    return refuse(`${route.commandType} is not open to ${principal.roles.length === 0 ? 'a token without roles' : `role ${principal.roles.join(', ')}`}`);
  }
  if (!actsAsCustomerOnly(principal, route)) return { ok: true, body, ownId: undefined };

  const customerId = params.customerId;
  if (customerId !== undefined && customerId !== principal.subject) return refuse('a customer acts only on their own profile');
  if (route.commandType === 'SignUpCustomer') return { ok: true, body, ownId: principal.subject };
  if (route.commandType === 'OpenOrder' && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const given = (body as Record<string, unknown>).customerId;
    if (given === undefined) return { ok: true, body: { ...body, customerId: principal.subject }, ownId: undefined };
    if (given !== principal.subject) return refuse('a customer opens orders only for themself');
  }
  return { ok: true, body, ownId: undefined };
}
