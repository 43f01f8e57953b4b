// npm run privacy:migrate: the one-off job that seals the personal data of
// events written before encryption (docs/privacy.md, "Events written before
// encryption"): the customer and order events, then their snapshots, then the
// e-mail reservations made before hashing (re-keyed by the keyed hash). Stop
// the command processor first; afterwards let the topics compact and rebuild
// the customers and orders read models (npm run replay -- --blue-green).
// Prints one line per topic: records read, records re-written.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../../infra/config';
import { createKafka } from '../../infra/kafka/client';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { topicName } from '../../schemas/topics';
import { KafkaKeyStore } from '../../infra/privacy/key-store';
import { erase, migrateEventTopic, sealWith, type Protect } from './migration';
import { migrateEmailReservations } from './migration-reservations';
import { migrateSnapshotTopic } from './migration-snapshots';
import { privacySecrets } from '../../infra/privacy/settings';

async function commandPartitions(kafka: ReturnType<typeof createKafka>, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length ?? 0;
    if (partitions === 0) throw new Error(`the topic ${topic} has no partitions`);
    return partitions;
  } finally {
    await admin.disconnect();
  }
}

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
    // After the events: an order snapshot's reason is sealed when its (migrated) cancellation event's is.
    for (const source of [
      { topic: topicName('customer', 'snapshots'), aggregate: 'customer' as const },
      { topic: topicName('order', 'snapshots'), aggregate: 'order' as const, eventsTopic: topicName('order', 'events') },
    ]) {
      const report = await migrateSnapshotTopic(kafka, codec, source, protectFor);
      process.stdout.write(`${source.topic}: ${report.read} records read, ${report.rewritten} snapshots re-written with personal data sealed\n`);
    }
    const partitions = await commandPartitions(kafka, topicName('email-reservation', 'commands'));
    const reservations = await migrateEmailReservations(
      kafka,
      codec,
      { events: topicName('email-reservation', 'events'), snapshots: topicName('email-reservation', 'snapshots'), partitions },
      secrets.emailSecret,
      {
        async recordHolder(customerId, reservationId) {
          const known = await keys.lookup(customerId);
          if (known.status === 'forgotten') return 'forgotten';
          // Recorded beside a new key of theirs, as a sign-up records it; once only, so a second run adds none.
          if (!keys.ring.recordsOf(customerId).some((r) => r.emailReservation === reservationId)) await keys.sealingKey(customerId, { rotate: true, emailReservation: reservationId });
          return 'recorded';
        },
      },
    );
    process.stdout.write(`e-mail reservations keyed by the address: ${reservations.found} found, ${reservations.rekeyed} re-keyed by the keyed hash (${reservations.released} of them released: holder forgotten), ${reservations.superseded} already reserved under the hash (old records removed)\n`);
  } finally {
    await keys.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`privacy:migrate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
