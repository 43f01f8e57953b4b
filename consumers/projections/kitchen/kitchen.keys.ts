// Keys of the kitchen read model:
//   rm:{ks}:kitchen:queue                 zset   orderId scored by confirmedAt (epoch ms): oldest first with ZRANGE
//   rm:{ks}:kitchen:ticket:<orderId>      hash   orderId, lines (JSON), placedAt, confirmedAt, status, preparationStartedAt
//   rm:{ks}:kitchen:v:<orderId>           string version guard (runtime)
import { readModelPrefix, perKeyspace } from '../shared/keys';

export interface KitchenKeys {
  readonly queue: string;
  ticket(orderId: string): string;
}

export const kitchenKeys = perKeyspace((keyspace: string): KitchenKeys => {
  const prefix = readModelPrefix(keyspace, 'kitchen');
  return { queue: `${prefix}queue`, ticket: (orderId) => `${prefix}ticket:${orderId}` };
});
