import type { Grant } from './acls';

/**
 * What the schema registry (Apicurio, kafkasql storage) needs when the local
 * stack runs secured (docs/least-privilege.md): its journal and snapshot
 * topics, which it creates, and its consumer group (the stack names it
 * restaurant.registry; Apicurio may add a suffix).
 */
export const REGISTRY_GROUP = 'restaurant.registry';
export const registryAccess: readonly Grant[] = [
  { resource: 'topic', name: 'kafkasql-', pattern: 'prefixed', operations: ['CREATE', 'READ', 'WRITE', 'DESCRIBE', 'DESCRIBE_CONFIGS'] },
  { resource: 'group', name: REGISTRY_GROUP, pattern: 'prefixed', operations: ['READ'] },
];
