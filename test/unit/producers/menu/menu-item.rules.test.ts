// The tasks a menu item offers are exactly the commands its decider accepts
// and that change it, for every status and caller.
import fc from 'fast-check';
import { decide, type MenuItemAvailability, type MenuItemState } from '../../../../producers/menu/menu-item.decider';
import { MENU_ITEM_ACTIONS, menuItemActions } from '../../../../producers/menu/menu-item.rules';
import type { Actor } from '../../../../schemas/generated/types';
import type { MenuItemCommand } from '../../../../schemas/messages';
import { ROLES } from '../../../../schemas/roles';

const STATUSES: readonly MenuItemAvailability[] = ['AVAILABLE', 'SOLD_OUT', 'REMOVED'];
const item = (status: MenuItemAvailability): MenuItemState => ({
  exists: true,
  name: 'Margherita',
  description: 'Tomato, mozzarella',
  category: 'MAIN',
  price: { amountMinor: 950, currency: 'EUR' },
  status,
});

function commandFor(action: keyof typeof MENU_ITEM_ACTIONS): MenuItemCommand {
  if (action === 'changePrice') return { type: 'ChangeMenuItemPrice', data: { price: { amountMinor: 1050, currency: 'EUR' } } };
  return { type: MENU_ITEM_ACTIONS[action], data: {} } as MenuItemCommand;
}

const actorArb: fc.Arbitrary<Actor> = fc.record({ subject: fc.constant('someone'), roles: fc.subarray([...ROLES, 'system'], { maxLength: 3 }) });

describe('menuItemActions', () => {
  it('offers a managing action exactly when the decider accepts it with a change', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STATUSES), actorArb, (status, actor) => {
        const offered = menuItemActions(status, actor);
        for (const action of Object.keys(MENU_ITEM_ACTIONS) as (keyof typeof MENU_ITEM_ACTIONS)[]) {
          const decision = decide(commandFor(action), item(status), { aggregateId: 'm-1', actor });
          const changes = decision.outcome === 'accepted' && decision.events.length > 0;
          expect({ action, offered: offered.includes(action) }).toEqual({ action, offered: changes });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('offers a manager the toggles by availability, and a customer only ordering what is available', () => {
    const manager: Actor = { subject: 'm', roles: ['manager'] };
    const customer: Actor = { subject: 'c', roles: ['customer'] };
    expect(menuItemActions('AVAILABLE', manager)).toEqual(['changePrice', 'markSoldOut', 'remove']);
    expect(menuItemActions('SOLD_OUT', manager)).toEqual(['changePrice', 'markAvailable', 'remove']);
    expect(menuItemActions('AVAILABLE', customer)).toEqual(['addToOrder']);
    expect(menuItemActions('SOLD_OUT', customer)).toEqual([]);
    expect(menuItemActions('AVAILABLE', { subject: 'k', roles: ['kitchen'] })).toEqual([]);
  });
});
