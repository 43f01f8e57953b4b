// The read models' names: a contract like the topic catalog's process-manager
// names (schemas/topics.ts). The projectors, the query and admin APIs key their
// Redis data and consumer groups by them (consumers/projections/shared/keys.ts),
// and the access catalogs (infra/kafka/principals.ts, app/kafka-access.ts,
// app/redis-access.ts) give each projector its own principal and keys.
export const READ_MODELS = ['menu', 'customers', 'orders', 'kitchen', 'sales'] as const;
export type ReadModelName = (typeof READ_MODELS)[number];
