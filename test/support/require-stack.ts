/**
 * Jest globalSetup for integration and e2e tests: they need the real Kafka,
 * schema registry and Redis. `npm test` brings the stack up first; running a
 * project on its own without it fails here, at once, with what to do.
 */
import { readStackSettings } from '../../infra/stack/settings';
import { status } from '../../infra/stack/stack';

export default async function requireStack(): Promise<void> {
  if (process.env.KAFKA_BROKERS || process.env.SCHEMA_REGISTRY_URL || process.env.REDIS_URL) return; // an external stack
  const rows = await status(readStackSettings());
  const missing = rows.filter((r) => r.state !== 'running' && r.state !== 'external');
  if (missing.length > 0) {
    throw new Error(
      `integration tests need the local stack, but ${missing.map((r) => `${r.name} (${r.address}) is ${r.state}`).join(', ')}.` +
        ' Run `npm run stack:up` (or `npm test`, which does it for you).',
    );
  }
}
