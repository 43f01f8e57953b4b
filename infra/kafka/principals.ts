// The SASL principals of the system (docs/least-privilege.md): one per role
// and operations tool, the composites that run several roles in one process,
// the super user that applies the ACLs, and the schema registry (when the
// local stack runs secured). Data only, below the composition root: the local
// stack (infra/stack/) creates their credentials when it formats a secured
// broker, and the access catalogs (app/) give each its rights.
import { READ_MODELS } from '../../schemas/read-models';

/** The runtime roles that run on their own, the operations tools, and the composites that run several roles in one process. */
export const KAFKA_PRINCIPAL_ROLES = [
  'gateway',
  'command-processor',
  ...READ_MODELS.map((m) => `projector:${m}` as const),
  'query',
  'admin-api',
  'process-manager:order-fulfilment',
  'loyalty',
  'payment-simulator',
  'topics-apply',
  'replay',
  'all',
  'commands',
  'projectors',
  'process-managers',
] as const;
export type AccessRole = (typeof KAFKA_PRINCIPAL_ROLES)[number];

/** The super user: applies ACLs (npm run kafka:acls), and the broker's own inter-broker identity. */
export const KAFKA_ADMIN = 'kafka-admin';
/** The schema registry's identity on a secured local stack (it keeps its schemas in Kafka). */
export const KAFKA_REGISTRY = 'registry';

/** The SASL user name of a role: its name with ':' turned into '.' (e.g. projector.menu). */
export const principalName = (role: AccessRole): string => role.replace(/:/g, '.');

export function isAccessRole(name: string): name is AccessRole {
  return (KAFKA_PRINCIPAL_ROLES as readonly string[]).includes(name);
}

/** Every SASL user a secured broker needs. */
export const kafkaUsers = (): string[] => [KAFKA_ADMIN, KAFKA_REGISTRY, ...KAFKA_PRINCIPAL_ROLES.map(principalName)];
