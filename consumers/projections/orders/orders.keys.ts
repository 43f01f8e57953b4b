// Keys of the orders read model:
//   rm:{ks}:orders:order:<orderId>              string JSON OrderDocument (details + timeline); also the
//                                               projection's state, read before a batch (read-modify-write)
//   rm:{ks}:orders:by-customer:<customerId>     zset   orderId scored by openedAt (epoch ms): newest first with ZRANGE REV
//   rm:{ks}:orders:v:<orderId>                  string version guard (runtime)
import { readModelPrefix, perKeyspace } from '../shared/keys';

export interface OrdersKeys {
  order(orderId: string): string;
  byCustomer(customerId: string): string;
}

export const ordersKeys = perKeyspace((keyspace: string): OrdersKeys => {
  const prefix = readModelPrefix(keyspace, 'orders');
  return {
    order: (orderId) => `${prefix}order:${orderId}`,
    byCustomer: (customerId) => `${prefix}by-customer:${customerId}`,
  };
});
