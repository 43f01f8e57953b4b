import { menuKeys } from '../../../../../consumers/projections/menu/menu.keys';
import { menuProjection } from '../../../../../consumers/projections/menu/menu.projection';
import { menuView } from '../../../../../consumers/projections/menu/menu.query';
import type { MemoryStore } from '../../../../../consumers/projections/shared/memory-store';
import { MenuCategorySymbols, type Money } from '../../../../../schemas/generated/types';
import type { MenuItemEvent } from '../../../../../schemas/messages';
import { fold, history, interleave, KS, MINUTE, T0 } from '../../../../support/projection-spec';

const eur = (amountMinor: number): Money => ({ amountMinor, currency: 'EUR' });
const keys = menuKeys(KS);

const added = (name: string, category: 'STARTER' | 'MAIN' | 'DESSERT', price: Money): MenuItemEvent => ({
  type: 'MenuItemAdded',
  data: { name, description: `${name}, freshly made`, category, price },
});

const pizza = history<MenuItemEvent>('m-pizza', [
  [added('Margherita', 'MAIN', eur(950)), T0],
  [{ type: 'MenuItemPriceChanged', data: { previousPrice: eur(950), price: eur(1050) } }, T0 + MINUTE],
  [{ type: 'MenuItemSoldOut', data: {} }, T0 + 2 * MINUTE],
]);
const bruschetta = history<MenuItemEvent>('m-bruschetta', [[added('Bruschetta', 'STARTER', eur(650)), T0]]);
const lasagne = history<MenuItemEvent>('m-lasagne', [
  [added('Lasagne', 'MAIN', eur(1350)), T0],
  [{ type: 'MenuItemSoldOut', data: {} }, T0 + MINUTE],
  [{ type: 'MenuItemBackInStock', data: {} }, T0 + 2 * MINUTE],
]);
const tiramisu = history<MenuItemEvent>('m-tiramisu', [
  [added('Tiramisu', 'DESSERT', eur(700)), T0],
  [{ type: 'MenuItemRemoved', data: {} }, T0 + 5 * MINUTE],
]);
const all = interleave(pizza, bruschetta, lasagne, tiramisu);

function readMenu(store: MemoryStore) {
  const ids = MenuCategorySymbols.flatMap((c) => store.smembers(keys.category(c)));
  return menuView(ids.map((id) => store.hgetall(keys.item(id))));
}

describe('menu projection', () => {
  it('lists items by category with price and availability; removed items disappear', () => {
    const { store, report } = fold(menuProjection, all);
    expect(report).toEqual({ applied: 9, skipped: 0, ignored: 0 });
    expect(readMenu(store)).toEqual({
      categories: [
        {
          category: 'STARTER',
          items: [
            { menuItemId: 'm-bruschetta', name: 'Bruschetta', description: 'Bruschetta, freshly made', category: 'STARTER', price: eur(650), availability: 'AVAILABLE', available: true },
          ],
        },
        {
          category: 'MAIN',
          items: [
            { menuItemId: 'm-lasagne', name: 'Lasagne', description: 'Lasagne, freshly made', category: 'MAIN', price: eur(1350), availability: 'AVAILABLE', available: true },
            { menuItemId: 'm-pizza', name: 'Margherita', description: 'Margherita, freshly made', category: 'MAIN', price: eur(1050), availability: 'SOLD_OUT', available: false },
          ],
        },
      ],
    });
    expect(store.keys(`rm:{${KS}}:menu:item:`)).toEqual([keys.item('m-bruschetta'), keys.item('m-lasagne'), keys.item('m-pizza')]);
    expect(store.smembers(keys.category('DESSERT'))).toEqual([]);
  });

  it('stores the item hash field by field, as Redis will hold it', () => {
    const { store } = fold(menuProjection, pizza);
    expect(store.hgetall(keys.item('m-pizza'))).toEqual({
      menuItemId: 'm-pizza',
      name: 'Margherita',
      description: 'Margherita, freshly made',
      category: 'MAIN',
      priceMinor: '1050',
      currency: 'EUR',
      availability: 'SOLD_OUT',
      updatedAt: String(T0 + 2 * MINUTE),
    });
  });

  it('gives the same read model when every event is delivered twice', () => {
    const { store } = fold(menuProjection, all);
    const once = store.dump();
    expect(fold(menuProjection, all, store).report).toEqual({ applied: 0, skipped: 9, ignored: 0 });
    expect(store.dump()).toEqual(once);
  });

  it('ignores an older version delivered after a newer one (no resurrection, no stale price)', () => {
    const [addedV1, priceV2, soldOutV3] = pizza;
    const [tiramisuAdded, tiramisuRemoved] = tiramisu;
    if (!addedV1 || !priceV2 || !soldOutV3 || !tiramisuAdded || !tiramisuRemoved) throw new Error('fixture');
    const { store, report } = fold(menuProjection, [addedV1, priceV2, soldOutV3, addedV1, priceV2, tiramisuAdded, tiramisuRemoved, tiramisuAdded]);
    expect(report).toEqual({ applied: 5, skipped: 3, ignored: 0 });
    expect(store.hgetall(keys.item('m-pizza'))).toMatchObject({ priceMinor: '1050', availability: 'SOLD_OUT' });
    expect(store.hgetall(keys.item('m-tiramisu'))).toEqual({});
    expect(store.smembers(keys.category('DESSERT'))).toEqual([]);
  });
});
