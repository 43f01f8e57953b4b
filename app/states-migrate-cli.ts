// npm run states:migrate -- <process manager>: rewrites the process manager's
// changelog so that every state folded by an earlier fold version is migrated
// to this build's (the definition's `migrate`; infra/stateful/migrate-states.ts,
// docs/state-stores.md "Fold versions"). Run it with every instance of the
// process manager stopped, then start the new build with a new
// STATE_CHANGELOG_EPOCH so every store is rebuilt from the migrated changelog.
// Prints what it found and what it rewrote; exits 1, having written nothing,
// when it refuses.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../infra/config';
import { createKafka } from '../infra/kafka/client';
import { AvroCodec } from '../infra/kafka/codec';
import { rootLogger } from '../infra/logging';
import { migrateStates } from '../infra/stateful/migrate-states';
import { PROCESS_MANAGERS, topicCatalog, type ProcessManagerName } from '../schemas/topics';
import { roleConfig } from './roles';
import { withProcessDefinition } from './start';

const isProcessManager = (name: string | undefined): name is ProcessManagerName => PROCESS_MANAGERS.some((pm) => pm === name);

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!isProcessManager(name)) throw new Error(`usage: npm run states:migrate -- <${PROCESS_MANAGERS.join('|')}>`);
  const logger = rootLogger.child({ component: 'states-migrate' });
  const kafka = createKafka('states-migrate', logger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const changelog = topicCatalog().changelog(name).name;
  const result = await withProcessDefinition(name, { kafka, codec, logger, settings: roleConfig() }, (definition) =>
    migrateStates(kafka, codec, definition, { groupId: definition.groupId, changelog, physical: changelog }),
  );
  const rewritten = [...result.migrated].map(([from, n]) => `${n} from fold version ${from}`).join(', ');
  console.log(
    rewritten === ''
      ? `${name}: nothing to migrate: all ${result.states} states of ${changelog} are of fold version ${result.foldVersion}`
      : `${name}: ${rewritten} migrated to fold version ${result.foldVersion} (${result.states} states in ${changelog}); start this build with a new STATE_CHANGELOG_EPOCH`,
  );
}

main().catch((error: unknown) => {
  console.error(`states:migrate failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
