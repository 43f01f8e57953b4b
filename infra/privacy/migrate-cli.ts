// npm run privacy:migrate: the one-off job that seals the personal data of
// events written before encryption (docs/privacy.md, "Events written before
// encryption"). Stop the command processor first; afterwards let the topics
// compact and rebuild the customers and orders read models (npm run replay --
// --blue-green). Prints one line per topic: events read, events re-written.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../config';
import { createKafka } from '../kafka/client';
import { AvroCodec } from '../kafka/codec';
import { rootLogger } from '../logging';
import { topicName } from '../../schemas/topics';
import { KafkaKeyStore } from './key-store';
import { erase, migrateEventTopic, sealWith, type Protect } from './migration';
import { privacySecrets } from './settings';

async function main(): Promise<void> {
  const logger = rootLogger.child({ component: 'privacy-migration' });
  const kafka = createKafka('privacy-migration', logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const secrets = await privacySecrets();
  const keys = new KafkaKeyStore(kafka, secrets.master, logger, { catchUpMs: 10_000 });
  if (!(await keys.start(120_000, { write: true }))) throw new Error('the key cache did not catch up with the keys topic in time');
  const protectFor = async (customerId: string): Promise<Protect> => {
    const known = await keys.lookup(customerId);
    return known.status === 'forgotten' ? erase : sealWith(await keys.sealingKey(customerId));
  };
  try {
    for (const aggregate of ['customer', 'order'] as const) {
      const topic = topicName(aggregate, 'events');
      const report = await migrateEventTopic(kafka, codec, { topic, aggregate }, protectFor);
      process.stdout.write(`${topic}: ${report.read} events read, ${report.rewritten} re-written with personal data sealed\n`);
    }
  } finally {
    await keys.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`privacy:migrate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
