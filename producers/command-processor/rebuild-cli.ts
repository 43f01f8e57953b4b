/**
 * npm run snapshots:rebuild -- <aggregate> — rebuilds one aggregate's snapshots
 * from its events topic with this build's fold, stamped with its fold version
 * (rebuild-snapshots.ts, docs/command-side.md "Fold versions"). Run it with
 * every command processor stopped, then start the new build with a new
 * STATE_CHANGELOG_EPOCH so every processor rebuilds its stores from the
 * rebuilt snapshots.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../../infra/config';
import { createKafka } from '../../infra/kafka/client';
import { AvroCodec } from '../../infra/kafka/codec';
import { topicCatalog } from '../../schemas/topics';
import type { CommandAggregate } from '../gateway/command-bus';
import { aggregateRuntimes } from './aggregates';
import { rebuildSnapshots } from './rebuild-snapshots';

async function main(): Promise<void> {
  const runtimes = aggregateRuntimes({ order: { maxOrderTotalMinor: Number(process.env.ORDER_MAX_TOTAL_MINOR ?? 100_000) } });
  const aggregate = process.argv[2] as CommandAggregate | undefined;
  if (aggregate === undefined || !(aggregate in runtimes)) throw new Error(`usage: npm run snapshots:rebuild -- <${Object.keys(runtimes).join('|')}>`);
  const runtime = runtimes[aggregate];
  const topics = topicCatalog({ ...config().topics }).forAggregate(aggregate);
  if (!topics.events || !topics.snapshots) throw new Error(`the catalog lacks topics for ${aggregate}`);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const rebuilt = await rebuildSnapshots(createKafka('snapshots-rebuild'), codec, runtime, { events: topics.events.name, snapshots: topics.snapshots.name, partitions: topics.snapshots.partitions });
  console.log(`${aggregate}: ${rebuilt.aggregates} snapshots rebuilt from ${rebuilt.events} events with fold version ${rebuilt.foldVersion}`);
}

main().catch((error: unknown) => {
  console.error(`snapshots:rebuild failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
