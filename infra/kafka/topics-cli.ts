/**
 * npm run topics:apply — creates missing topics, verifies existing ones (partitions,
 * replication factor, min.insync.replicas and every declared config), registers
 * every subject of the catalog in the schema registry (BACKWARD_TRANSITIVE).
 * Exit 1 with a report when a topic drifted from its declaration.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../config';
import { createKafka } from './client';
import { AvroCodec } from './codec';
import { allTopicSpecs, applyTopics, registerSubjects, TopicDriftError } from './topics';

async function main(): Promise<void> {
  const specs = allTopicSpecs();
  const admin = createKafka('topics-apply').admin();
  await admin.connect();
  try {
    const result = await applyTopics(admin, specs);
    const { replicationFactor, minInsyncReplicas } = config().topics;
    console.log(
      `topics: ${result.created.length} created, ${result.verified.length} verified, ${result.drift.length} drifted` +
        ` (declared: ${replicationFactor} replica(s), min.insync.replicas ${minInsyncReplicas}, on ${config().kafka.brokers.join(',')})`,
    );
    for (const name of result.created) console.log(`  created ${name}`);
    if (result.drift.length > 0) throw new TopicDriftError(result.drift);
  } finally {
    await admin.disconnect();
  }
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const count = await registerSubjects(codec, specs);
  console.log(`schemas: ${count} subjects registered or confirmed at ${config().registry.url}`);
}

main().catch((error: unknown) => {
  console.error(`topics:apply failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
