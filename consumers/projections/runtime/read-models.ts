// The five read models: which projection, which events topics.
import type { EventMetadata } from '../../../schemas/generated/types';
import { topicName } from '../../../schemas/topics';
import { customersProjection } from '../customers/customers.projection';
import { kitchenProjection } from '../kitchen/kitchen.projection';
import { menuProjection } from '../menu/menu.projection';
import { ordersProjection } from '../orders/orders.projection';
import { salesProjection } from '../sales/sales.projection';
import { DEFAULT_KEYSPACE, READ_MODELS, type ReadModelName } from '../shared/keys';
import type { WriteOp } from '../shared/ops';
import type { Projection } from '../shared/projection';

/** A projection with its event and state types erased, for the runtime. */
export type AnyProjection = Projection<{ readonly type: string }, unknown> & {
  apply(state: unknown, event: { readonly type: string }, metadata: EventMetadata, keyspace: string): { state: unknown; ops: readonly WriteOp[] };
};

export interface ReadModelSpec {
  readonly name: ReadModelName;
  readonly projection: AnyProjection;
  /** The events topics it reads. */
  readonly topics: readonly string[];
}

const erase = <E extends { readonly type: string }, S>(p: Projection<E, S>): AnyProjection => p as unknown as AnyProjection;

export const READ_MODEL_SPECS: Readonly<Record<ReadModelName, ReadModelSpec>> = Object.freeze({
  menu: { name: 'menu', projection: erase(menuProjection), topics: [topicName('menu', 'events')] },
  customers: { name: 'customers', projection: erase(customersProjection), topics: [topicName('customer', 'events')] },
  orders: { name: 'orders', projection: erase(ordersProjection), topics: [topicName('order', 'events')] },
  kitchen: { name: 'kitchen', projection: erase(kitchenProjection), topics: [topicName('order', 'events')] },
  sales: { name: 'sales', projection: erase(salesProjection), topics: [topicName('order', 'events')] },
});

export function isReadModel(name: string): name is ReadModelName {
  return (READ_MODELS as readonly string[]).includes(name);
}

/**
 * The consumer group of a read model: `restaurant.projection.<model>` for the
 * default keyspace; a rebuild into another keyspace has its own group
 * (`restaurant.projection.<model>.<keyspace>`), so it replays from the start
 * while the live one carries on.
 */
export function projectionGroupId(model: ReadModelName, keyspace: string): string {
  return keyspace === DEFAULT_KEYSPACE ? `restaurant.projection.${model}` : `restaurant.projection.${model}.${keyspace}`;
}
