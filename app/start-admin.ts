// ROLE=admin-api: the admin API (consumers/admin-api/app.ts) on ADMIN_PORT.
// A role of its own because it writes: it repairs read models (Redis) and
// records every action on restaurant.dead-letter-actions (Kafka), which the
// read-only query API may not (docs/least-privilege.md, "admin-api").
import Redis from 'ioredis';
import { createAdminApp } from '../consumers/admin-api/app';
import { httpAuth } from '../infra/auth/http-auth';
import { config } from '../infra/config';
import { serveHttp } from '../infra/http/servers';
import { redisReadiness } from '../infra/http/readiness';
import type { RoleDeps, Running } from './start';

export async function startAdminApi({ kafka, codec, logger, settings, metrics, readiness }: RoleDeps): Promise<Running> {
  const log = logger.child({ component: 'admin-api' });
  const redis = new Redis(config().redis.url, { connectionName: 'admin-api', maxRetriesPerRequest: 3, enableOfflineQueue: true });
  // Idempotent, acks=all: an action is recorded once; connected before serving, so no action is taken that cannot be recorded.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const undo = async (): Promise<void> => {
    await producer.disconnect().catch(() => undefined);
    redis.disconnect();
  };
  try {
    await redis.ping();
    await producer.connect();
    const auth = await httpAuth(config().auth, log);
    const app = createAdminApp({ redis, keyspace: settings.keyspace, codec, producer, kafka, logger: log, authenticate: auth.middleware });
    const server = await serveHttp('admin-api', app, settings.adminPort, { log: log.child({ keyspace: settings.keyspace }), metrics, ...(readiness === undefined ? {} : { readiness }) }, 'admin API listening');
    return {
      name: 'admin-api',
      readiness: [redisReadiness('admin-api', redis)],
      async stop() {
        await server.close();
        await producer.disconnect();
        await redis.quit();
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}
