import type { Grant } from './acls';

/**
 * What the schema registry (Apicurio, kafkasql storage) needs when the local
 * stack runs secured (docs/least-privilege.md): its journal, snapshot and
 * events topics, which it creates, and its consumer groups (Apicurio names
 * them apicurio-<uuid>, one per topic it reads).
 */
export const REGISTRY_GROUP_PREFIX = 'apicurio-';
export const registryAccess: readonly Grant[] = [
  { resource: 'topic', name: 'kafkasql-', pattern: 'prefixed', operations: ['CREATE', 'READ', 'WRITE', 'DESCRIBE', 'DESCRIBE_CONFIGS'] },
  { resource: 'topic', name: 'registry-events', pattern: 'literal', operations: ['CREATE', 'WRITE', 'DESCRIBE', 'DESCRIBE_CONFIGS'] },
  { resource: 'group', name: REGISTRY_GROUP_PREFIX, pattern: 'prefixed', operations: ['READ'] },
];
