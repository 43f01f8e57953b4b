// Keys of the menu read model:
//   rm:{ks}:menu:item:<menuItemId>        hash   one item (see MenuItemFields)
//   rm:{ks}:menu:category:<CATEGORY>      set    ids of the items listed under a category
//   rm:{ks}:menu:v:<menuItemId>           string version guard (runtime)
import type { MenuCategory } from '../../../schemas/generated/types';
import { readModelPrefix, perKeyspace } from '../shared/keys';

export interface MenuKeys {
  item(menuItemId: string): string;
  category(category: MenuCategory): string;
}

export const menuKeys = perKeyspace((keyspace: string): MenuKeys => {
  const prefix = readModelPrefix(keyspace, 'menu');
  return {
    item: (menuItemId) => `${prefix}item:${menuItemId}`,
    category: (category) => `${prefix}category:${category}`,
  };
});
