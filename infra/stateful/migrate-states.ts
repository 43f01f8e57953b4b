// Migrating a stateful definition's states to a new fold version
// (`npm run states:migrate`, docs/state-stores.md "Fold versions"). A process
// manager's state is not a fold of one events topic (deadlines fire as inputs
// of their own, facts are looked up when an input arrives), so it cannot be
// rebuilt from the events; a definition whose fold changed meaning declares
// how an old state becomes a new one (`migrate`), and this rewrites the
// changelog with it:
//
// 1. the definition's consumer group must have no member: nothing decides
//    while the states are rewritten;
// 2. the changelog is read to its end; each key's latest state stamped with
//    another fold version is decoded with the schema it was written with,
//    migrated, checked (`fromStateRecord`) and encoded with this build's;
// 3. each partition's migrated states are written in one transaction under
//    the partition task's own transactional id, which fences any instance
//    that was still running unseen, stamped with this build's fold version.
//
// Nothing is written unless every stale state can be migrated. Afterwards the
// new build starts with a new STATE_CHANGELOG_EPOCH, so every store is
// rebuilt from the changelog, where each key's latest state is now of the new
// fold (older records of the same key are superseded).
import type { Kafka, Message } from 'kafkajs';
import type { AvroCodec } from '../kafka/codec';
import { readToEnd } from '../kafka/read-to-end';
import { fencedProducer, sendPerPartition } from '../kafka/transactions';
import { FOLD_VERSION_HEADER, foldVersionOf } from '../state/changelog-restore';
import type { StatefulDefinition } from './definition';
import { foldVersionOfDefinition } from './partition-state';
import { UNSTAMPED_FOLD_VERSION } from './stamped-store';
import { chunks } from './transact';

/** Where a definition's states are. */
export interface MigrationTarget {
  readonly groupId: string;
  /** The changelog as the catalog names it (the subject its records are encoded under). */
  readonly changelog: string;
  /** The changelog topic written (the same, unless on topics of its own). */
  readonly physical: string;
}

export interface Migrated {
  /** States on the changelog (each key's latest, tombstones left out). */
  readonly states: number;
  /** States rewritten, by the fold version they had. */
  readonly migrated: ReadonlyMap<number, number>;
  readonly foldVersion: number;
}

/** The migration cannot run (an instance is running, or a stale state has no migration): nothing was written. */
export class MigrationRefused extends Error {
  override readonly name = 'MigrationRefused';
}

interface Latest {
  readonly partition: number;
  readonly value: Buffer | null;
  readonly foldVersion: number;
}

export async function migrateStates<S>(kafka: Kafka, codec: AvroCodec, definition: StatefulDefinition<S, unknown>, target: MigrationTarget): Promise<Migrated> {
  const foldVersion = foldVersionOfDefinition(definition);
  await refuseWhileRunning(kafka, definition.name, target.groupId);

  const latest = new Map<string, Latest>();
  await readToEnd(kafka, [{ topic: target.physical }], ({ partition, message }) => {
    const key = message.key?.toString();
    if (key === undefined) return;
    const stamped = foldVersionOf(message);
    latest.set(key, { partition, value: message.value, foldVersion: stamped === 0 ? UNSTAMPED_FOLD_VERSION : stamped });
  });
  const stale = [...latest].filter(([, l]) => l.value !== null && l.foldVersion !== foldVersion);
  const states = [...latest.values()].filter((l) => l.value !== null).length;
  const versions = [...new Set(stale.map(([, l]) => l.foldVersion))].sort((a, b) => a - b);
  if (stale.length === 0) return { states, migrated: new Map(), foldVersion };
  const migrate = definition.migrate?.bind(definition);
  if (migrate === undefined) {
    throw new MigrationRefused(
      `${definition.name}: ${stale.length} state(s) of ${target.physical} were folded by fold version ${versions.join(', ')}, and this build's fold (version ${foldVersion}) declares no migration from them. ` +
        'Add `migrate` to the definition (docs/state-stores.md "Fold versions"), or roll the build back.',
    );
  }

  // Every state is migrated and encoded before anything is written: a state that cannot be writes nothing at all.
  const byPartition = new Map<number, Message[]>();
  const migrated = new Map<number, number>();
  for (const [key, { partition, value, foldVersion: from }] of stale) {
    const decoded = await codec.decode(value as Buffer);
    if (decoded.fullName !== definition.stateRecord) throw new MigrationRefused(`${definition.name}: the state of ${key} is a ${decoded.fullName}, not a ${definition.stateRecord}`);
    let record: unknown;
    try {
      const state = migrate(decoded.value, from);
      record = await codec.encode(target.changelog, definition.stateRecord, state);
      // What the runtime will read back must be a state this build accepts.
      definition.fromStateRecord((await codec.decode(record as Buffer)).value);
    } catch (cause) {
      throw new MigrationRefused(`${definition.name}: the state of ${key} (fold version ${from}) could not be migrated: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    const list = byPartition.get(partition) ?? [];
    list.push({ key, value: record as Buffer, partition, headers: { [FOLD_VERSION_HEADER]: String(foldVersion) } });
    byPartition.set(partition, list);
    migrated.set(from, (migrated.get(from) ?? 0) + 1);
  }

  for (const [partition, messages] of byPartition) {
    // The task's own transactional id: an instance still holding the partition can no longer commit.
    const producer = await fencedProducer(kafka, `${target.groupId}.${partition}`);
    try {
      const transaction = await producer.transaction();
      try {
        for (const chunk of chunks(new Map([[target.physical, messages]]))) {
          await sendPerPartition(transaction, [...chunk].map(([topic, list]) => ({ topic, messages: list })));
        }
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } finally {
      await producer.disconnect();
    }
  }
  return { states, migrated, foldVersion };
}

async function refuseWhileRunning(kafka: Kafka, name: string, groupId: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const members = groups[0]?.members.length ?? 0;
    if (members > 0) throw new MigrationRefused(`${name}: its consumer group ${groupId} has ${members} member(s); stop every instance before migrating its states`);
  } finally {
    await admin.disconnect();
  }
}
