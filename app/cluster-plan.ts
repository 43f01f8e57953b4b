// Which processes `npm run cluster` starts and on which ports: every role
// twice (CLUSTER_INSTANCES), each instance on ports of its own. Pure, so the
// plan is tested without starting anything.
import type { Role } from './roles';

/**
 * The roles of a scaled-out restaurant, one process each: together they run
 * every role of roles.ts (`projectors` runs the five `projector:<model>`,
 * `process-managers` the order-fulfilment process and the loyalty policy)
 * but `admin-api`, the operators' repair endpoints, started on its own when needed.
 */
export const CLUSTER_ROLES = ['command-processor', 'gateway', 'projectors', 'query', 'process-managers', 'payment-simulator', 'web'] as const satisfies readonly Role[];
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

export interface ClusterPorts {
  /** First gateway's HTTP port (PORT); instance k listens 10·(k−1) above it. */
  readonly port: number;
  /** First query API's HTTP port (QUERY_PORT); instance k listens 10·(k−1) above it. */
  readonly queryPort: number;
  /** First web role's HTTP port (WEB_PORT); instance k listens 10·(k−1) above it and forwards to gateway k and query API k. */
  readonly webPort: number;
  /** First process's operations port (HEALTH_PORT); every process takes the next one. */
  readonly healthPort: number;
}

export interface PlannedInstance {
  readonly role: ClusterRole;
  /** `<role>-<k>`: its INSTANCE_ID, log file name and name in the table. */
  readonly name: string;
  /** The variables that make this process this instance. */
  readonly env: Readonly<Record<'ROLE' | 'INSTANCE_ID' | 'PORT' | 'QUERY_PORT' | 'WEB_PORT' | 'HEALTH_PORT', string>>;
  /** Where it serves HTTP to clients: the gateway's, the query API's or the web UI's port; undefined for the others. */
  readonly httpPort?: number;
  readonly opsPort: number;
}

export class ClusterPlanError extends Error {
  override readonly name = 'ClusterPlanError';
}

/** The next instance of a role with an HTTP port listens this far above the previous one. */
export const INSTANCE_PORT_STEP = 10;

export function planCluster(instances: number, ports: ClusterPorts, taken: ReadonlyMap<number, string> = new Map()): PlannedInstance[] {
  if (!Number.isInteger(instances) || instances < 1 || instances > 9) throw new ClusterPlanError(`CLUSTER_INSTANCES=${instances} is not a whole number from 1 to 9`);
  const plan: PlannedInstance[] = [];
  let ops = ports.healthPort;
  for (const role of CLUSTER_ROLES) {
    for (let k = 1; k <= instances; k += 1) {
      const port = ports.port + INSTANCE_PORT_STEP * (k - 1);
      const queryPort = ports.queryPort + INSTANCE_PORT_STEP * (k - 1);
      const webPort = ports.webPort + INSTANCE_PORT_STEP * (k - 1);
      const httpPort = role === 'gateway' ? port : role === 'query' ? queryPort : role === 'web' ? webPort : undefined;
      const name = `${role}-${k}`;
      plan.push({
        role,
        name,
        env: { ROLE: role, INSTANCE_ID: name, PORT: String(port), QUERY_PORT: String(queryPort), WEB_PORT: String(webPort), HEALTH_PORT: String(ops) },
        ...(httpPort === undefined ? {} : { httpPort }),
        opsPort: ops,
      });
      ops += 1;
    }
  }
  const owners = new Map(taken);
  for (const instance of plan) {
    for (const [port, what] of [
      [instance.httpPort, `${instance.name}'s HTTP port`],
      [instance.opsPort, `${instance.name}'s operations port`],
    ] as const) {
      if (port === undefined) continue;
      if (port > 65535) throw new ClusterPlanError(`${what} would be ${port}, above 65535: lower PORT, QUERY_PORT, WEB_PORT or HEALTH_PORT`);
      const owner = owners.get(port);
      if (owner !== undefined) throw new ClusterPlanError(`${what} would be ${port}, which is ${owner}'s: move PORT, QUERY_PORT, WEB_PORT or HEALTH_PORT`);
      owners.set(port, what);
    }
  }
  return plan;
}
