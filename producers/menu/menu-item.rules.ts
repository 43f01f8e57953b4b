// The menu item's state preconditions and the tasks they make available. The
// decider answers a command on a removed item, and a repeat that would change
// nothing, from `menuItemPrecondition`; the query side offers the tasks whose
// precondition holds (docs/live-updates.md#actions). One set of rules, two callers.
import type { Actor } from '../../schemas/generated/types';
import type { MenuItemCommand } from '../../schemas/messages';
import { authorize } from '../shared/authorization';
import { reject, type Refusal } from '../shared/decider';
import type { MenuItemAvailability, MenuItemRejectionCode } from './menu-item.state';

/** Commands on an existing menu item. */
export type MenuItemTaskCommand = Exclude<MenuItemCommand['type'], 'AddMenuItem'>;

/** The item's tasks as the UI names them (camelCase command names), in the order `actions` lists them. */
export const MENU_ITEM_ACTIONS = {
  changePrice: 'ChangeMenuItemPrice',
  markSoldOut: 'MarkMenuItemSoldOut',
  markAvailable: 'MarkMenuItemAvailable',
  remove: 'RemoveMenuItem',
} as const satisfies Record<string, MenuItemTaskCommand>;

/** `addToOrder`: the item can go into an order (AddItemToOrder on some order of the caller's). */
export type MenuItemAction = keyof typeof MENU_ITEM_ACTIONS | 'addToOrder';
const MANAGING_ACTIONS = Object.keys(MENU_ITEM_ACTIONS) as (keyof typeof MENU_ITEM_ACTIONS)[];

/**
 * What precondition says about a command on an item in `status`:
 *   `refused`  the decider rejects it (the item was removed);
 *   `no-op`    the decider accepts it as a harmless repeat that changes nothing (not a task);
 *   null       it applies (a price change still needs a valid, different price).
 */
export type MenuItemPrecondition = Refusal<MenuItemRejectionCode> | 'no-op' | null;

export function menuItemPrecondition(command: MenuItemTaskCommand, status: MenuItemAvailability): MenuItemPrecondition {
  if (status === 'REMOVED') {
    return command === 'RemoveMenuItem' ? 'no-op' : reject('menu_item_removed', 'the menu item was removed from the menu');
  }
  switch (command) {
    case 'ChangeMenuItemPrice':
    case 'RemoveMenuItem':
      return null;
    case 'MarkMenuItemSoldOut':
      return status === 'SOLD_OUT' ? 'no-op' : null;
    case 'MarkMenuItemAvailable':
      return status === 'AVAILABLE' ? 'no-op' : null;
  }
}

/** Whether an item in `status` can be ordered (the gateway refuses to add an item that is not AVAILABLE). */
export function orderable(status: MenuItemAvailability): boolean {
  return status === 'AVAILABLE';
}

/** The tasks `actor` can do on an item in `status`: managing it (manager, admin), ordering it (customer, admin). */
export function menuItemActions(status: MenuItemAvailability, actor: Actor): MenuItemAction[] {
  const actions: MenuItemAction[] = MANAGING_ACTIONS.filter((action) => {
    const command = MENU_ITEM_ACTIONS[action];
    return authorize(actor, command, () => null, 'menu') === null && menuItemPrecondition(command, status) === null;
  });
  // Adding to one's own order: the role check of AddItemToOrder (ownership is the order's, checked there).
  if (orderable(status) && authorize(actor, 'AddItemToOrder', () => actor.subject, 'orders') === null) actions.push('addToOrder');
  return actions;
}
