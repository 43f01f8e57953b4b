// MenuItem aggregate: one dish or drink on the menu, its price and availability.
import type { MenuItemSnapshot } from '../../schemas/generated/types';
import type { MenuItemCommand, MenuItemEvent } from '../../schemas/messages';
import { validateDescription, validateMenuItemName, validatePrice } from '../../schemas/validation';
import { authorize as authorizeActor, type Forbidden } from '../shared/authorization';
import { menuItemPrecondition } from './menu-item.rules';
import { accept, reject, SnapshotError, type CommandContext, type Decider, type Decision, type Refusal, type StateSnapshot } from '../shared/decider';
import { assertNever } from '../../kernel/assert-never';
import { initialState, type MenuItemRejectionCode, type MenuItemState } from './menu-item.state';

// The state's names, for the command processor and the tests that take the aggregate from here.
export { initialState, MENU_ITEM_REJECTIONS, type MenuItemAvailability, type MenuItemRejectionCode, type MenuItemState } from './menu-item.state';

type Result = Decision<MenuItemEvent, MenuItemRejectionCode>;

/** The menu belongs to the restaurant: the role alone decides (no customer role may change it). */
export function authorize(command: MenuItemCommand, _state: MenuItemState, context: CommandContext): Refusal<Forbidden> | null {
  return authorizeActor(context.actor, command.type, () => null, 'menu');
}

export function decide(command: MenuItemCommand, state: MenuItemState, context: CommandContext): Result {
  const forbidden = authorize(command, state, context);
  if (forbidden !== null) return forbidden;
  if (command.type === 'AddMenuItem') {
    if (state.exists) return reject('menu_item_already_exists', 'a menu item with this id already exists');
    const { name, description, category, price } = command.data;
    const nameProblem = validateMenuItemName(name);
    if (nameProblem !== null) return reject('invalid_name', nameProblem);
    const descriptionProblem = validateDescription(description);
    if (descriptionProblem !== null) return reject('invalid_description', descriptionProblem);
    if (category === 'UNKNOWN') return reject('invalid_category', 'choose a menu category');
    const priceProblem = validatePrice(price);
    if (priceProblem !== null) return reject('invalid_price', priceProblem);
    return accept({ type: 'MenuItemAdded', data: { name: name.trim(), description: description.trim(), category, price } });
  }
  if (!state.exists) return reject('menu_item_not_found', 'no menu item with this id');
  // Removing twice, or marking sold out what is sold out, is a harmless repeat; anything else on a removed item is a mistake.
  const precondition = menuItemPrecondition(command.type, state.status);
  if (precondition === 'no-op') return accept();
  if (precondition !== null) return precondition;

  switch (command.type) {
    case 'ChangeMenuItemPrice': {
      const { price } = command.data;
      const problem = validatePrice(price);
      if (problem !== null) return reject('invalid_price', problem);
      if (price.currency !== state.price.currency) {
        return reject('currency_mismatch', `the menu is priced in ${state.price.currency}, not ${price.currency}`);
      }
      if (price.amountMinor === state.price.amountMinor) return accept();
      return accept({ type: 'MenuItemPriceChanged', data: { previousPrice: state.price, price } });
    }
    case 'MarkMenuItemSoldOut':
      return accept({ type: 'MenuItemSoldOut', data: {} });
    case 'MarkMenuItemAvailable':
      return accept({ type: 'MenuItemBackInStock', data: {} });
    case 'RemoveMenuItem':
      return accept({ type: 'MenuItemRemoved', data: {} });
    default:
      return assertNever(command, 'menu item command');
  }
}

export function evolve(state: MenuItemState, event: MenuItemEvent): MenuItemState {
  switch (event.type) {
    case 'MenuItemAdded':
      return { exists: true, ...event.data, status: 'AVAILABLE' };
    case 'MenuItemPriceChanged':
      return state.exists ? { ...state, price: event.data.price } : state;
    case 'MenuItemSoldOut':
      return state.exists ? { ...state, status: 'SOLD_OUT' } : state;
    case 'MenuItemBackInStock':
      return state.exists ? { ...state, status: 'AVAILABLE' } : state;
    case 'MenuItemRemoved':
      return state.exists ? { ...state, status: 'REMOVED' } : state;
    default:
      return assertNever(event, 'menu item event');
  }
}

export const menuItemDecider: Decider<MenuItemCommand, MenuItemEvent, MenuItemState, MenuItemRejectionCode> = {
  initialState,
  decide,
  evolve,
};

export function toSnapshot(menuItemId: string, version: number, state: MenuItemState): StateSnapshot<MenuItemSnapshot> | null {
  if (!state.exists) return null;
  const { name, description, category, price, status } = state;
  return { menuItemId, version, name, description, category, price, status };
}

export function fromSnapshot(snapshot: StateSnapshot<MenuItemSnapshot>): { aggregateId: string; version: number; state: MenuItemState } {
  const { menuItemId, version, name, description, category, price, status } = snapshot;
  if (status === 'UNKNOWN') {
    throw new SnapshotError(`menu item ${menuItemId}: snapshot holds a status this build does not know; rebuild it from events`);
  }
  return { aggregateId: menuItemId, version, state: { exists: true, name, description, category, price, status } };
}
