// Menu read model: items by category with name, description, price and
// availability; removed items disappear. Blind writes only (no state): every
// menu event carries or implies everything its writes need.
import { MenuCategorySymbols, type EventMetadata } from '../../../schemas/generated/types';
import type { MenuItemEvent } from '../../../schemas/messages';
import { del, hset, sadd, srem, type WriteOp } from '../shared/ops';
import type { Projection, ProjectionStep } from '../shared/projection';
import { menuKeys } from './menu.keys';
import { assertNever } from '../../../kernel/assert-never';

export type MenuAvailability = 'AVAILABLE' | 'SOLD_OUT';

/** Fields of the item hash; every value a string, as Redis stores it. */
export interface MenuItemFields {
  readonly menuItemId: string;
  readonly name: string;
  readonly description: string;
  readonly category: string;
  readonly priceMinor: string;
  readonly currency: string;
  readonly availability: MenuAvailability;
  /** occurredAt of the last applied event, epoch ms. */
  readonly updatedAt: string;
}

/** The writes one menu event makes. */
export function menuOps(event: MenuItemEvent, metadata: EventMetadata, keyspace: string): WriteOp[] {
  const keys = menuKeys(keyspace);
  const id = metadata.aggregateId;
  const item = keys.item(id);
  const updatedAt = String(metadata.occurredAt);
  switch (event.type) {
    case 'MenuItemAdded': {
      const { name, description, category, price } = event.data;
      const fields: MenuItemFields = {
        menuItemId: id,
        name,
        description,
        category,
        priceMinor: String(price.amountMinor),
        currency: price.currency,
        availability: 'AVAILABLE',
        updatedAt,
      };
      return [hset(item, { ...fields }), sadd(keys.category(category), id)];
    }
    case 'MenuItemPriceChanged':
      return [hset(item, { priceMinor: String(event.data.price.amountMinor), currency: event.data.price.currency, updatedAt })];
    case 'MenuItemSoldOut':
      return [hset(item, { availability: 'SOLD_OUT', updatedAt })];
    case 'MenuItemBackInStock':
      return [hset(item, { availability: 'AVAILABLE', updatedAt })];
    case 'MenuItemRemoved':
      // The event does not name the category; categories are a closed enum, so
      // removing the id from every category set is a blind write that needs no read.
      return [del(item), ...MenuCategorySymbols.map((category) => srem(keys.category(category), id))];
    default:
      return assertNever(event, 'menu event');
  }
}

export const menuProjection: Projection<MenuItemEvent, null> = {
  readModel: 'menu',
  handles: new Set<MenuItemEvent['type']>(['MenuItemAdded', 'MenuItemPriceChanged', 'MenuItemSoldOut', 'MenuItemBackInStock', 'MenuItemRemoved']),
  stateKey: () => null,
  initialState: null,
  apply: (_state, event, metadata, keyspace): ProjectionStep<null> => ({ state: null, ops: menuOps(event, metadata, keyspace) }),
};
