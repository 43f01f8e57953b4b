// Who is asking: the subject and roles of a verified token.
import { isRole, SYSTEM_ROLE, type Role } from '../../schemas/roles';
import type { Actor } from '../../schemas/generated/types';

export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
}

/** The principal as the `actor` of the commands it issues. */
export function actorOf(principal: Principal): Actor {
  return { subject: principal.subject, roles: [...principal.roles] };
}

/** The value at a dotted claim path (e.g. realm_access.roles), or undefined. */
function claimAt(payload: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let value: unknown = payload;
  for (const part of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export type RolesResult = { readonly ok: true; readonly roles: readonly Role[] } | { readonly ok: false; readonly reason: string };

/**
 * The project's roles named in the claim: an array of strings or one
 * space-separated string. Names the project does not know (a provider's own
 * roles) are ignored; a token naming `system` is refused outright, since only
 * the system's own processes act as system.
 */
export function rolesFromClaims(payload: Readonly<Record<string, unknown>>, path: readonly string[]): RolesResult {
  const raw = claimAt(payload, path);
  const names = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string') : [];
  if (names.includes(SYSTEM_ROLE)) return { ok: false, reason: 'a token cannot grant the system role' };
  return { ok: true, roles: [...new Set(names.filter(isRole))] };
}
