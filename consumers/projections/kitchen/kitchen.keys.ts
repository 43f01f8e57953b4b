// Keys of the kitchen read model (the kitchen board and the courier queue):
//   rm:{ks}:kitchen:queue                 zset   orderId scored by confirmedAt (epoch ms): oldest first with ZRANGE
//   rm:{ks}:kitchen:courier               zset   orderId scored by readyAt (epoch ms): ready and dispatched orders, oldest first
//   rm:{ks}:kitchen:ticket:<orderId>      hash   orderId, lines (JSON), deliveryAddress (JSON), placedAt, confirmedAt, status,
//                                                preparationStartedAt, readyAt, dispatchedAt
//   rm:{ks}:kitchen:v:<orderId>           string version guard (runtime)
import { readModelPrefix, perKeyspace } from '../shared/keys';

export interface KitchenKeys {
  readonly queue: string;
  readonly courier: string;
  ticket(orderId: string): string;
}

export const kitchenKeys = perKeyspace((keyspace: string): KitchenKeys => {
  const prefix = readModelPrefix(keyspace, 'kitchen');
  return { queue: `${prefix}queue`, courier: `${prefix}courier`, ticket: (orderId) => `${prefix}ticket:${orderId}` };
});
