// Query-side helpers for the menu: turn the stored hashes into the response.
// The query API reads SMEMBERS of each category set, then HGETALL of each item.
import { MenuCategorySymbols, type MenuCategory, type Money } from '../../../schemas/generated/types';
import type { MenuAvailability } from './menu.projection';

/** Categories in the order a menu is read; UNKNOWN (a category newer than this build) last. */
export const MENU_CATEGORY_ORDER: readonly MenuCategory[] = [
  ...MenuCategorySymbols.filter((c) => c !== 'UNKNOWN'),
  'UNKNOWN',
];

export interface MenuItemView {
  readonly menuItemId: string;
  readonly name: string;
  readonly description: string;
  readonly category: MenuCategory;
  readonly price: Money;
  readonly availability: MenuAvailability;
  readonly available: boolean;
}

export interface MenuView {
  readonly categories: readonly { readonly category: MenuCategory; readonly items: readonly MenuItemView[] }[];
}

const isCategory = (value: string | undefined): value is MenuCategory => MenuCategorySymbols.some((c) => c === value);

/** One item hash as stored (HGETALL), or null when the item is gone (empty hash) or incomplete. */
export function toMenuItemView(hash: Readonly<Record<string, string>>): MenuItemView | null {
  const { menuItemId, name, description, category, priceMinor, currency, availability } = hash;
  if (menuItemId === undefined || name === undefined || priceMinor === undefined || currency === undefined) return null;
  const status: MenuAvailability = availability === 'SOLD_OUT' ? 'SOLD_OUT' : 'AVAILABLE';
  return {
    menuItemId,
    name,
    description: description ?? '',
    category: isCategory(category) ? category : 'UNKNOWN',
    price: { amountMinor: Number(priceMinor), currency },
    availability: status,
    available: status === 'AVAILABLE',
  };
}

/** Items grouped by category (empty categories left out), each sorted by name, then id. */
export function menuView(itemHashes: readonly Readonly<Record<string, string>>[]): MenuView {
  const items = itemHashes.map(toMenuItemView).filter((i): i is MenuItemView => i !== null);
  const compare = (a: MenuItemView, b: MenuItemView): number =>
    a.name.localeCompare(b.name, 'en') || (a.menuItemId < b.menuItemId ? -1 : a.menuItemId > b.menuItemId ? 1 : 0);
  return {
    categories: MENU_CATEGORY_ORDER.map((category) => ({ category, items: items.filter((i) => i.category === category).sort(compare) })).filter(
      (c) => c.items.length > 0,
    ),
  };
}
