// The menu item aggregate's state and the names its decider and rules share
// (menu-item.decider.ts decides and evolves it, menu-item.rules.ts holds its
// preconditions).
import type { MenuCategory, Money } from '../../schemas/generated/types';
import { FORBIDDEN } from '../shared/authorization';

export const MENU_ITEM_REJECTIONS = [
  FORBIDDEN,
  'menu_item_already_exists',
  'menu_item_not_found',
  'menu_item_removed',
  'invalid_name',
  'invalid_description',
  'invalid_category',
  'invalid_price',
  'currency_mismatch',
] as const;
export type MenuItemRejectionCode = (typeof MENU_ITEM_REJECTIONS)[number];

export type MenuItemAvailability = 'AVAILABLE' | 'SOLD_OUT' | 'REMOVED';

export type MenuItemState =
  | { readonly exists: false }
  | {
      readonly exists: true;
      readonly name: string;
      readonly description: string;
      /** UNKNOWN only when a newer writer used a category this build does not know. */
      readonly category: MenuCategory;
      readonly price: Money;
      readonly status: MenuItemAvailability;
    };

export const initialState: MenuItemState = { exists: false };
