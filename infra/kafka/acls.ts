// Kafka ACLs as data: what a principal may do, the broker's rule for whether a
// set of grants allows an operation, and applying a catalog of grants to a
// broker idempotently (kafkajs admin: describeAcls, createAcls, deleteAcls).
// The catalog of who gets what is app/kafka-access.ts; how it is run and
// why each grant exists: docs/least-privilege.md.
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes, type Admin, type AclEntry } from 'kafkajs';

export type AclResource = 'topic' | 'group' | 'transactional-id';
export type AclOperation = 'READ' | 'WRITE' | 'CREATE' | 'DELETE' | 'DESCRIBE' | 'DESCRIBE_CONFIGS';

export interface Grant {
  readonly resource: AclResource;
  readonly name: string;
  /** `prefixed`: every name that starts with `name` (Kafka's PREFIXED pattern). */
  readonly pattern: 'literal' | 'prefixed';
  readonly operations: readonly AclOperation[];
}

/** The broker's principal of a SASL user. */
export const userPrincipal = (username: string): string => `User:${username}`;

const matches = (grant: Grant, resource: AclResource, name: string): boolean =>
  grant.resource === resource && (grant.pattern === 'literal' ? grant.name === name : name.startsWith(grant.name));

/** Kafka's implications: READ, WRITE and DELETE include DESCRIBE. */
const implies = (granted: AclOperation, wanted: AclOperation): boolean =>
  granted === wanted || (wanted === 'DESCRIBE' && (granted === 'READ' || granted === 'WRITE' || granted === 'DELETE'));

/** Does this set of grants allow the operation on the resource, as the broker's StandardAuthorizer decides it (ALLOW rules only)? */
export function allows(grants: readonly Grant[], resource: AclResource, name: string, operation: AclOperation): boolean {
  return grants.some((g) => matches(g, resource, name) && g.operations.some((op) => implies(op, operation)));
}

/** Merges grants on the same resource pattern, operations sorted and deduplicated, in a stable order. */
export function normalise(grants: readonly Grant[]): Grant[] {
  const byResource = new Map<string, { grant: Grant; ops: Set<AclOperation> }>();
  for (const g of grants) {
    const key = `${g.resource}|${g.pattern}|${g.name}`;
    const entry = byResource.get(key) ?? { grant: g, ops: new Set<AclOperation>() };
    g.operations.forEach((op) => entry.ops.add(op));
    byResource.set(key, entry);
  }
  return [...byResource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, { grant, ops }]) => ({ resource: grant.resource, name: grant.name, pattern: grant.pattern, operations: [...ops].sort() }));
}

const RESOURCE_TYPES: Readonly<Record<AclResource, AclResourceTypes>> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  'transactional-id': AclResourceTypes.TRANSACTIONAL_ID,
};

const OPERATION_TYPES: Readonly<Record<AclOperation, AclOperationTypes>> = {
  READ: AclOperationTypes.READ,
  WRITE: AclOperationTypes.WRITE,
  CREATE: AclOperationTypes.CREATE,
  DELETE: AclOperationTypes.DELETE,
  DESCRIBE: AclOperationTypes.DESCRIBE,
  DESCRIBE_CONFIGS: AclOperationTypes.DESCRIBE_CONFIGS,
};

/** One ALLOW binding per operation, from any host. */
export function aclEntries(principal: string, grants: readonly Grant[]): AclEntry[] {
  return normalise(grants).flatMap((g) =>
    g.operations.map((op) => ({
      principal,
      host: '*',
      permissionType: AclPermissionTypes.ALLOW,
      operation: OPERATION_TYPES[op],
      resourceType: RESOURCE_TYPES[g.resource],
      resourceName: g.name,
      resourcePatternType: g.pattern === 'literal' ? ResourcePatternTypes.LITERAL : ResourcePatternTypes.PREFIXED,
    })),
  );
}

const entryKey = (e: AclEntry): string => [e.principal, e.host, e.permissionType, e.operation, e.resourceType, e.resourceName, e.resourcePatternType].join('|');

export interface AclApplyResult {
  readonly created: number;
  readonly deleted: number;
  readonly unchanged: number;
}

/**
 * Makes the broker's ACLs of each given principal exactly its grants: creates
 * the missing bindings and deletes the ones the catalog no longer has, so a
 * permission taken out of the code is taken away from the broker too.
 * Principals not named are left alone. Run it as a super user.
 */
export async function applyAcls(admin: Admin, principals: ReadonlyMap<string, readonly Grant[]>, settleMs = 15_000): Promise<AclApplyResult> {
  const wanted = new Map<string, AclEntry>();
  for (const [principal, grants] of principals) for (const e of aclEntries(principal, grants)) wanted.set(entryKey(e), e);
  const diff = async (): Promise<{ missing: AclEntry[]; stale: AclEntry[] }> => {
    const existing = await describedAcls(admin, [...principals.keys()]);
    return {
      missing: [...wanted].filter(([key]) => !existing.has(key)).map(([, e]) => e),
      stale: [...existing].filter(([key]) => !wanted.has(key)).map(([, e]) => e),
    };
  };
  const { missing, stale } = await diff();
  if (missing.length > 0) await admin.createAcls({ acl: missing });
  if (stale.length > 0) await admin.deleteAcls({ filters: stale });
  // The controller records ACLs and the authorizer learns them from the metadata log a moment later:
  // return once the broker shows them, so that what starts next is allowed what it should be.
  const deadline = Date.now() + settleMs;
  for (;;) {
    const left = await diff();
    if (left.missing.length + left.stale.length === 0) break;
    if (Date.now() > deadline) throw new Error(`the broker did not show the applied ACLs within ${settleMs} ms (${left.missing.length} missing, ${left.stale.length} stale)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { created: missing.length, deleted: stale.length, unchanged: wanted.size - missing.length };
}

async function describedAcls(admin: Admin, principals: readonly string[]): Promise<Map<string, AclEntry>> {
  const existing = new Map<string, AclEntry>();
  for (const principal of principals) {
    const described = await admin.describeAcls({
      resourceType: AclResourceTypes.ANY,
      resourcePatternType: ResourcePatternTypes.ANY,
      principal,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    });
    for (const r of described.resources) {
      for (const acl of r.acls) {
        const e: AclEntry = { ...acl, resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType };
        existing.set(entryKey(e), e);
      }
    }
  }
  return existing;
}
