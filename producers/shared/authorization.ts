// Authorization as the deciders check it, first thing in `decide`: pure, over
// the command's actor and the owner the aggregate's state names.
//
//   1. A null actor is trusted: such a command was written before actors were
//      recorded (it can only still sit in a commands topic during an upgrade),
//      and only the gateway and the system's processes may write commands
//      topics at all (the broker's ACLs).
//   2. Role: the actor must hold a role COMMAND_ROLES allows for the command.
//   3. Ownership: when the `customer` role is the only one of the actor's roles
//      that allows the command, the actor acts as an owner and the command must
//      be about the actor's own thing (owner === actor.subject). Staff roles
//      (kitchen, courier, manager, admin) and `system` are not owners: for
//      them the role alone decides.
//
// A thing without an owner (an order or customer that does not exist) is
// `forbidden` to an owner too, with the same message as another customer's, so
// a customer cannot probe which ids exist (docs/domain.md, "Who may act").
import type { Actor } from '../../schemas/generated/types';
import type { DomainCommand } from '../../schemas/messages';
import { reject, type Refusal } from './decider';
import { COMMAND_ROLES, mayIssue } from './permissions';

export const FORBIDDEN = 'forbidden';
export type Forbidden = typeof FORBIDDEN;

const OWNER_ROLE = 'customer';

/** True when the actor may issue this command only as a customer, i.e. only on what it owns. */
export function actsAsOwner(actor: Actor, commandType: DomainCommand['type']): boolean {
  const allowed: readonly string[] = COMMAND_ROLES[commandType];
  const granting = actor.roles.filter((role) => allowed.includes(role));
  return granting.length > 0 && granting.every((role) => role === OWNER_ROLE);
}

/**
 * null when the actor may issue the command, else a `forbidden` rejection.
 * `owner` names the customer who owns what the command is about (null: nobody,
 * e.g. the aggregate does not exist); it is asked only for an owner-bound actor.
 * `what` names the thing for the message, which never says whether it exists.
 */
export function authorize(
  actor: Actor | null,
  commandType: DomainCommand['type'],
  owner: () => string | null,
  what: string,
): Refusal<Forbidden> | null {
  if (actor === null) return null;
  if (!mayIssue(actor.roles, commandType)) {
    return reject(FORBIDDEN, `${commandType} needs one of the roles ${COMMAND_ROLES[commandType].join(', ')}`);
  }
  if (actsAsOwner(actor, commandType) && owner() !== actor.subject) {
    return reject(FORBIDDEN, `a customer may act only on their own ${what}`);
  }
  return null;
}
