/**
 * Where a restore from scratch of the command processor's store spends its
 * time on the stateful runtime (docs/scaling-bench.md): one snapshot partition
 * of a `npm run bench:state` topic set, restored three ways in the same run,
 * alternating rounds:
 *   - fetch: the restore's consumer with a target that keeps nothing (kafkajs's fetch and record decode);
 *   - fetch + rows: that, and each record turned into the store's row as the runtime does (the summary's fields
 *     decoded, `summaryOfFields`), and again with each state decoded whole (as before `summaryOfFields`);
 *   - store: the runtime's own restore into a fresh store (stamped-store.ts), its rows and store writes timed.
 *
 *   nice node --import tsx bench/state/restore-profile.ts [topic] [partition]
 *
 * Default topic bench-state-1000000.order.snapshots, partition 0; PROFILE_ROUNDS (2).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { config } from '../../infra/config';
import { createKafka } from '../../infra/kafka/client';
import { AvroCodec } from '../../infra/kafka/codec';
import { rootLogger } from '../../infra/logging';
import { restoreFromChangelog, type Change } from '../../infra/state/changelog-restore';
import { StateStore } from '../../infra/state/state-store';
import { foldVersionOfDefinition, stateDecoder, stateRow } from '../../infra/stateful/partition-state';
import { openStamped } from '../../infra/stateful/stamped-store';
import { aggregateRuntimes } from '../../producers/command-processor/aggregates';
import { commandDefinition } from '../../producers/command-processor/command-definition';

const TOPIC = process.argv[2] ?? 'bench-state-1000000.order.snapshots';
const PARTITION = Number(process.argv[3] ?? 0);
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 2);

async function main(): Promise<void> {
  const kafka = createKafka('bench-state-profile', rootLogger);
  const codec = new AvroCodec(new SchemaRegistry({ host: config().registry.url }));
  const definition = commandDefinition({ runtime: aggregateRuntimes({ order: { maxOrderTotalMinor: 1_000_000 } }).order });
  const row = stateRow(codec, definition);
  // The same definition without its summary fields: every state decoded whole, as before summaryOfFields.
  const { summaryOfFields, ...whole } = definition;
  const wholeRow = stateRow(codec, whole);
  const rows = async (changes: readonly Change[], each = row): Promise<Change[]> => Promise.all(changes.map(each));
  const say = (what: string, ms: number, records: number, extra = ''): void =>
    console.log(`${what.padEnd(14)} ${(ms / 1000).toFixed(2)} s, ${records} records, ${Math.round((records / ms) * 1000)}/s${extra} | load ${os.loadavg()[0]?.toFixed(1)}`);
  console.log(`restore profile of ${TOPIC}[${PARTITION}], load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  // Time inside the store's transactions, whoever calls apply.
  let applyMs = 0;
  const apply = StateStore.prototype.apply;
  StateStore.prototype.apply = function timedApply(this: StateStore<unknown>, ...args: Parameters<typeof apply>) {
    const t0 = performance.now();
    try {
      apply.apply(this, args);
    } finally {
      applyMs += performance.now() - t0;
    }
  };

  for (let round = 1; round <= ROUNDS; round += 1) {
    let offset = 0;
    const fetched = await restoreFromChangelog(kafka, { reflectsOffset: () => offset, apply: (_c, next) => void (offset = next) }, { topic: TOPIC, partition: PARTITION });
    say('fetch', fetched.ms, fetched.records, `, ${fetched.batches} batches`);

    for (const [what, each] of [
      ['fetch + rows', row],
      ['+ whole rows', wholeRow],
    ] as const) {
      offset = 0;
      let rowMs = 0;
      const decoded = await restoreFromChangelog(
        kafka,
        {
          reflectsOffset: () => offset,
          apply: async (changes, next) => {
            const t0 = performance.now();
            await rows(changes, each);
            rowMs += performance.now() - t0;
            offset = next;
          },
        },
        { topic: TOPIC, partition: PARTITION },
      );
      say(what, decoded.ms, decoded.records, `; rows ${(rowMs / 1000).toFixed(2)} s${each === row && summaryOfFields !== undefined ? ` (fields ${summaryOfFields.fields.join(', ')})` : ''}`);
    }

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-profile-'));
    try {
      applyMs = 0;
      let storeRowMs = 0;
      const opened = await openStamped({
        kafka,
        dir,
        identity: { topic: TOPIC, partition: PARTITION, epoch: '1', foldVersion: foldVersionOfDefinition(definition) },
        decode: stateDecoder(codec, definition),
        decodedCapacity: 500,
        row: async (change) => {
          const t0 = performance.now();
          const r = await row(change);
          storeRowMs += performance.now() - t0;
          return r;
        },
        refusal: (why) => JSON.stringify(why),
      });
      say('store', opened.restore.ms, opened.restore.records, `; rows ${(storeRowMs / 1000).toFixed(2)} s, store writes ${(applyMs / 1000).toFixed(2)} s`);
      opened.store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  console.error('profile failed', error);
  process.exit(1);
});
