// Keys of the customers read model:
//   rm:{ks}:customers:profile:<customerId>     hash  customerId, name, email, signedUpAt, updatedAt
//   rm:{ks}:customers:addresses:<customerId>   hash  addressId -> JSON { address, addedAt, seq }
//   rm:{ks}:customers:v:<customerId>           string version guard (runtime)
import { readModelPrefix, perKeyspace } from '../shared/keys';

export interface CustomersKeys {
  profile(customerId: string): string;
  addresses(customerId: string): string;
}

export const customersKeys = perKeyspace((keyspace: string): CustomersKeys => {
  const prefix = readModelPrefix(keyspace, 'customers');
  return {
    profile: (customerId) => `${prefix}profile:${customerId}`,
    addresses: (customerId) => `${prefix}addresses:${customerId}`,
  };
});
