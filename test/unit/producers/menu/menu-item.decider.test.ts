import { evolve, fromSnapshot, initialState, menuItemDecider, toSnapshot } from '../../../../producers/menu/menu-item.decider';
import { evolveAll, SnapshotError } from '../../../../producers/shared/decider';
import type { Money } from '../../../../schemas/generated/types';
import type { MenuItemCommand, MenuItemEvent } from '../../../../schemas/messages';
import { actor, deciderSpec } from '../../../support/decider-spec';

const { given } = deciderSpec(menuItemDecider, {}, 'm-pizza');

const eur = (amountMinor: number): Money => ({ amountMinor, currency: 'EUR' });
const added: MenuItemEvent = {
  type: 'MenuItemAdded',
  data: { name: 'Margherita', description: 'Tomato, mozzarella, basil', category: 'MAIN', price: eur(950) },
};
const soldOut: MenuItemEvent = { type: 'MenuItemSoldOut', data: {} };
const removed: MenuItemEvent = { type: 'MenuItemRemoved', data: {} };

describe('AddMenuItem', () => {
  it('adds an available item with trimmed text', () => {
    given([])
      .when({ type: 'AddMenuItem', data: { name: ' Margherita ', description: ' Tomato, mozzarella, basil ', category: 'MAIN', price: eur(950) } })
      .then([added]);
  });
  it('rejects an id that already exists, even after removal', () => {
    given([added, removed]).when({ type: 'AddMenuItem', data: { name: 'Margherita', description: '', category: 'MAIN', price: eur(950) } }).thenRejects('menu_item_already_exists');
  });
  it('rejects an empty name', () => {
    given([]).when({ type: 'AddMenuItem', data: { name: ' ', description: '', category: 'MAIN', price: eur(950) } }).thenRejects('invalid_name');
  });
  it('rejects a description that is too long', () => {
    given([]).when({ type: 'AddMenuItem', data: { name: 'Pizza', description: 'x'.repeat(501), category: 'MAIN', price: eur(950) } }).thenRejects('invalid_description');
  });
  it('rejects the UNKNOWN category', () => {
    given([]).when({ type: 'AddMenuItem', data: { name: 'Pizza', description: '', category: 'UNKNOWN', price: eur(950) } }).thenRejects('invalid_category');
  });
  it.each<[string, Money]>([
    ['zero', eur(0)],
    ['negative', eur(-1)],
    ['fractional minor units', eur(9.5)],
    ['a bad currency', { amountMinor: 950, currency: 'euro' }],
  ])('rejects a %s price', (_label, price) => {
    given([]).when({ type: 'AddMenuItem', data: { name: 'Pizza', description: '', category: 'MAIN', price } }).thenRejects('invalid_price');
  });
});

describe('ChangeMenuItemPrice', () => {
  it('changes the price and records the previous one', () => {
    given([added]).when({ type: 'ChangeMenuItemPrice', data: { price: eur(1050) } }).then([
      { type: 'MenuItemPriceChanged', data: { previousPrice: eur(950), price: eur(1050) } },
    ]);
  });
  it('accepts the same price as a repeat without events', () => {
    given([added]).when({ type: 'ChangeMenuItemPrice', data: { price: eur(950) } }).thenNothing();
  });
  it('rejects a non-positive price', () => {
    given([added]).when({ type: 'ChangeMenuItemPrice', data: { price: eur(0) } }).thenRejects('invalid_price');
  });
  it('rejects another currency', () => {
    given([added]).when({ type: 'ChangeMenuItemPrice', data: { price: { amountMinor: 950, currency: 'USD' } } }).thenRejects('currency_mismatch');
  });
  it('rejects an unknown item', () => {
    given([]).when({ type: 'ChangeMenuItemPrice', data: { price: eur(950) } }).thenRejects('menu_item_not_found');
  });
  it('rejects a removed item', () => {
    given([added, removed]).when({ type: 'ChangeMenuItemPrice', data: { price: eur(1000) } }).thenRejects('menu_item_removed');
  });
});

describe('availability', () => {
  it('marks an available item sold out', () => {
    given([added]).when({ type: 'MarkMenuItemSoldOut', data: {} }).then([soldOut]);
  });
  it('accepts sold out twice without a second event', () => {
    given([added, soldOut]).when({ type: 'MarkMenuItemSoldOut', data: {} }).thenNothing();
  });
  it('brings a sold-out item back in stock', () => {
    given([added, soldOut]).when({ type: 'MarkMenuItemAvailable', data: {} }).then([{ type: 'MenuItemBackInStock', data: {} }]);
  });
  it('accepts available on an available item without events', () => {
    given([added]).when({ type: 'MarkMenuItemAvailable', data: {} }).thenNothing();
  });
  it.each(['MarkMenuItemSoldOut', 'MarkMenuItemAvailable', 'RemoveMenuItem'] as const)('rejects %s on an unknown item', (type) => {
    given([]).when({ type, data: {} }).thenRejects('menu_item_not_found');
  });
  it.each(['MarkMenuItemSoldOut', 'MarkMenuItemAvailable'] as const)('rejects %s on a removed item', (type) => {
    given([added, removed]).when({ type, data: {} }).thenRejects('menu_item_removed');
  });
});

describe('RemoveMenuItem', () => {
  it('removes an item, sold out or not', () => {
    given([added, soldOut]).when({ type: 'RemoveMenuItem', data: {} }).then([removed]);
  });
  it('accepts a second removal without events', () => {
    given([added, removed]).when({ type: 'RemoveMenuItem', data: {} }).thenNothing();
  });
});

describe('menu item state and snapshots', () => {
  const history: MenuItemEvent[] = [added, { type: 'MenuItemPriceChanged', data: { previousPrice: eur(950), price: eur(1100) } }, soldOut];
  const state = evolveAll(evolve, initialState, history);

  it('folds the history', () => {
    expect(state).toEqual({ exists: true, name: 'Margherita', description: 'Tomato, mozzarella, basil', category: 'MAIN', price: eur(1100), status: 'SOLD_OUT' });
  });
  it('round-trips through its snapshot record', () => {
    const snapshot = toSnapshot('m-1', 3, state);
    expect(snapshot).not.toBeNull();
    if (snapshot !== null) expect(fromSnapshot(snapshot)).toEqual({ aggregateId: 'm-1', version: 3, state });
  });
  it('refuses to restore a status this build does not know', () => {
    const snapshot = toSnapshot('m-1', 3, state);
    if (snapshot === null) throw new Error('expected a snapshot');
    expect(() => fromSnapshot({ ...snapshot, status: 'UNKNOWN' })).toThrow(SnapshotError);
  });
});

describe('who may act on a menu item', () => {
  const add: MenuItemCommand = { type: 'AddMenuItem', data: { name: 'Margherita', description: 'Tomato, mozzarella, basil', category: 'MAIN', price: eur(950) } };

  it.each(['manager', 'admin'])('lets a %s change the menu', (role) => {
    given([]).as(actor('staff-1', role)).when(add).then([added]);
    given([added]).as(actor('staff-1', role)).when({ type: 'MarkMenuItemSoldOut', data: {} }).then([soldOut]);
  });
  it.each(['customer', 'kitchen', 'courier', 'system'])('forbids a %s to change the menu', (role) => {
    given([]).as(actor('someone', role)).when(add).thenRejects('forbidden');
    given([added]).as(actor('someone', role)).when({ type: 'RemoveMenuItem', data: {} }).thenRejects('forbidden');
  });
  it('trusts a command without an actor', () => {
    given([]).as(null).when(add).then([added]);
  });
});
