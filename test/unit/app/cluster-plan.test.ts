import { CLUSTER_ROLES, ClusterPlanError, planCluster } from '../../../app/cluster-plan';
import { ROLES } from '../../../app/roles';

const ports = { port: 3000, queryPort: 3001, webPort: 3002, healthPort: 9464 };

describe('npm run cluster’s plan', () => {
  it('runs every role twice by default, each instance named and on ports of its own', () => {
    const plan = planCluster(2, ports);
    expect(plan.map((p) => p.name)).toEqual(CLUSTER_ROLES.flatMap((r) => [`${r}-1`, `${r}-2`]));
    const gateways = plan.filter((p) => p.role === 'gateway');
    expect(gateways.map((g) => [g.httpPort, g.env.PORT])).toEqual([
      [3000, '3000'],
      [3010, '3010'],
    ]);
    expect(plan.filter((p) => p.role === 'query').map((q) => [q.httpPort, q.env.QUERY_PORT])).toEqual([
      [3001, '3001'],
      [3011, '3011'],
    ]);
    // Each web UI forwards to the gateway and query API of its own number.
    expect(plan.filter((p) => p.role === 'web').map((w) => [w.httpPort, w.env.WEB_PORT, w.env.PORT, w.env.QUERY_PORT])).toEqual([
      [3002, '3002', '3000', '3001'],
      [3012, '3012', '3010', '3011'],
    ]);
    const opsPorts = plan.map((p) => p.opsPort);
    expect(new Set(opsPorts).size).toBe(plan.length);
    expect(Math.min(...opsPorts)).toBe(9464);
    for (const p of plan) expect(p.env).toEqual(expect.objectContaining({ ROLE: p.role, INSTANCE_ID: p.name, HEALTH_PORT: String(p.opsPort) }));
    expect(plan.filter((p) => p.httpPort === undefined).map((p) => p.role)).not.toContain('gateway');
  });

  it('covers every role of roles.ts but the admin API: the aggregate roles run what the others are made of', () => {
    const covered = new Set<string>(CLUSTER_ROLES);
    for (const role of ROLES) {
      if (role === 'all' || role === 'commands') continue; // several roles in one process: the opposite of scaling out
      if (role === 'admin-api') continue; // an operator's repair tool, started when needed (docs/operations.md), not part of the serving restaurant
      const by = role.startsWith('projector:') ? 'projectors' : role === 'process-manager:order-fulfilment' || role === 'loyalty' ? 'process-managers' : role;
      expect({ role, covered: covered.has(by) }).toEqual({ role, covered: true });
    }
  });

  it('refuses ports that collide with the stack or run past 65535, and a silly count', () => {
    expect(() => planCluster(2, ports, new Map([[9470, 'kafka']]))).toThrow(/9470, which is kafka's/);
    expect(() => planCluster(2, { ...ports, healthPort: 3010 })).toThrow(ClusterPlanError);
    expect(() => planCluster(2, { ...ports, port: 65530 })).toThrow(/above 65535/);
    expect(() => planCluster(0, ports)).toThrow(/CLUSTER_INSTANCES/);
    expect(planCluster(3, ports).filter((p) => p.role === 'gateway').map((g) => g.httpPort)).toEqual([3000, 3010, 3020]);
  });
});
