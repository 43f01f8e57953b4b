// Who may act in the restaurant. Bearer tokens carry the first five roles;
// `system` marks the commands and events the system's own processes (order
// fulfilment, loyalty, the payment simulator) write, and is never accepted
// from a token. The acting principal travels in every command's and event's
// metadata as an `Actor` (schemas/avro/restaurant/common/Actor.avsc).
import type { Actor } from './generated/types';

export const ROLES = ['customer', 'kitchen', 'courier', 'manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const SYSTEM_ROLE = 'system';

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** The actor of a command or event written by one of the system's own processes. */
export function systemActor(process: string): Actor {
  return { subject: process, roles: [SYSTEM_ROLE] };
}

/** True when the actor holds `role`. A null actor (history written before actors were recorded) holds none. */
export function actorHas(actor: Actor | null, role: Role | typeof SYSTEM_ROLE): boolean {
  return actor !== null && actor.roles.includes(role);
}
