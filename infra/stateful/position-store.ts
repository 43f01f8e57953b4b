// Where a task's consumed input positions live (docs/stateful-runtime.md
// "Positions"): read on assignment, written in each round's transaction. A
// definition chooses with `positions`:
//
// * 'group' (default): the group's committed offsets, written with
//   `sendOffsets` in the transaction and read with fetchOffsets on assignment.
// * 'changelog': a checkpoint record per input topic in the task's changelog
//   partition (key `@checkpoint/<group>/<topic>`, a CommandCheckpoint, as the
//   command processor's), written in the same transaction as the outputs and
//   states, kept in the store beside the states (labelled, never counted as a
//   state nor checked for its fold) and restored by the same read. No
//   AddOffsetsToTxn, TxnOffsetCommit nor group commit marker per transaction;
//   the consumer seeks to the checkpoints on assignment, and the group's
//   offsets are committed outside the transactions, once a second, for lag
//   monitoring only. With `checkpointKey: 'group'` (one input), that
//   input's checkpoint is keyed `@checkpoint/<group>`, the command
//   processor's key, as builds before the runtime wrote it: their stores are resumed at their position.
import type { Admin, Message } from 'kafkajs';
import type { CommandCheckpoint } from '../../schemas/generated/types';
import type { AvroCodec } from '../kafka/codec';
import { FOLD_VERSION_HEADER, type Change } from '../state/changelog-restore';
import type { StateStore } from '../state/state-store';

export type PositionsMode = 'group' | 'changelog';

/** What reading a checkpoint needs of a partition's store. */
export type EntryReader = Pick<StateStore<unknown>, 'getEntry'>;

export const CHECKPOINT_RECORD = 'restaurant.common.CommandCheckpoint';
/** Keys of checkpoints in a changelog start with it; no process id does (they are aggregate ids). */
export const CHECKPOINT_KEY_PREFIX = '@checkpoint/';
/** The store label of checkpoint rows: kept apart from the states' status labels and counts. */
export const CHECKPOINT_LABEL = '@checkpoint';

export const isCheckpointKey = (key: string): boolean => key.startsWith(CHECKPOINT_KEY_PREFIX);
/** The key of a group's position in one physical input topic (compaction keeps the latest per topic). */
export const checkpointKeyOf = (groupId: string, topic: string): string => `${CHECKPOINT_KEY_PREFIX}${groupId}/${topic}`;
/** The command processor's key: one checkpoint per changelog partition, for its one commands topic (named in the record). */
export const groupCheckpointKeyOf = (groupId: string): string => `${CHECKPOINT_KEY_PREFIX}${groupId}`;

/** How checkpoint keys are chosen: one per input topic (default), or the group's key for the one input (the processor's). */
export type CheckpointKeys = 'topic' | 'group';

/** The store row of a restored checkpoint record: labelled so that counts and deadlines leave it out. */
export const checkpointRow = (change: Change): Change => ({ ...change, summary: { label: CHECKPOINT_LABEL, due: null } });

/** What a round's transaction carries for its positions. */
export interface PositionWrite {
  /** Records for the task's changelog partition, after the states. */
  readonly records: readonly Message[];
  /** Whether the offsets go to the group with sendOffsets in the transaction. */
  readonly sendOffsets: boolean;
}

export interface PositionStore {
  readonly mode: PositionsMode;
  /**
   * Per partition just restored: physical input topic -> the offset of the
   * first input not decided. Absent: none recorded (start at the log start).
   */
  read(partitions: ReadonlyArray<{ readonly partition: number; readonly store: EntryReader }>): Promise<Map<number, Map<string, number>>>;
  /** What the round's transaction of `partition` writes for `offsets` (physical input topic -> next offset). */
  write(partition: number, offsets: ReadonlyMap<string, number>, now: number): Promise<PositionWrite>;
}

export interface PositionContext {
  readonly mode: PositionsMode;
  readonly admin: () => Pick<Admin, 'fetchOffsets'>;
  readonly codec: Pick<AvroCodec, 'encode' | 'decode'>;
  readonly groupId: string;
  /** Physical input topics (the parked topic too, when the runtime parks). */
  readonly inputs: readonly string[];
  /** The catalog (logical) changelog topic: its subjects encode the checkpoints. */
  readonly changelog: string;
  readonly foldVersion: number;
  /**
   * The physical input whose checkpoint is keyed `@checkpoint/<group>` (the
   * command processor's key; the record names the topic): a definition with
   * `checkpointKey: 'group'`. Other topics (the parked topic) stay keyed by topic.
   */
  readonly groupKeyed?: string;
}

/** The group's committed offsets of `inputs` for `partitions` (absent: none committed). */
async function groupOffsets(ctx: PositionContext, partitions: readonly number[]): Promise<Map<number, Map<string, number>>> {
  const fetched = await ctx.admin().fetchOffsets({ groupId: ctx.groupId, topics: [...ctx.inputs] });
  return new Map(
    partitions.map((partition) => {
      const found = new Map<string, number>();
      for (const topic of ctx.inputs) {
        const offset = Number(fetched.find((t) => t.topic === topic)?.partitions.find((x) => x.partition === partition)?.offset ?? -1);
        if (offset >= 0) found.set(topic, offset);
      }
      return [partition, found] as const;
    }),
  );
}

export function positionStore(ctx: PositionContext): PositionStore {
  return ctx.mode === 'group' ? groupPositions(ctx) : changelogPositions(ctx);
}

function groupPositions(ctx: PositionContext): PositionStore {
  return {
    mode: 'group',
    read: (partitions) => groupOffsets(ctx, partitions.map((p) => p.partition)),
    write: () => Promise.resolve({ records: [], sendOffsets: true }),
  };
}

function changelogPositions(ctx: PositionContext): PositionStore {
  return {
    mode: 'changelog',
    async read(partitions) {
      // A topic this group never checkpointed (a definition switched from 'group') starts at the group's offset.
      const fallback = await groupOffsets(ctx, partitions.map((p) => p.partition));
      const out = new Map<number, Map<string, number>>();
      for (const { partition, store } of partitions) {
        const found = new Map(fallback.get(partition));
        for (const topic of ctx.inputs) {
          const checkpoint = await checkpointOf(ctx, store, topic);
          if (checkpoint !== undefined) found.set(topic, checkpoint.nextOffset);
        }
        out.set(partition, found);
      }
      return out;
    },
    async write(partition, offsets, now) {
      const records: Message[] = [];
      for (const [topic, nextOffset] of offsets) {
        const checkpoint: CommandCheckpoint = { groupId: ctx.groupId, commandTopic: topic, partition, nextOffset, committedAt: now };
        const value = await ctx.codec.encode(ctx.changelog, CHECKPOINT_RECORD, checkpoint);
        records.push({ key: keyOf(ctx, topic), value, partition, headers: { [FOLD_VERSION_HEADER]: String(ctx.foldVersion) } });
      }
      return { records, sendOffsets: false };
    },
  };
}

const keyOf = (ctx: PositionContext, topic: string): string => (topic === ctx.groupKeyed ? groupCheckpointKeyOf(ctx.groupId) : checkpointKeyOf(ctx.groupId, topic));

/**
 * A topic's checkpoint in a partition's store. Group-keyed: the group's key
 * when it names the topic (a record of the processor's or of this runtime),
 * else the topic's own key (written before the definition chose the group's
 * key), else none.
 */
async function checkpointOf(ctx: PositionContext, store: EntryReader, topic: string): Promise<CommandCheckpoint | undefined> {
  if (topic === ctx.groupKeyed) {
    const keyed = await storedCheckpoint(ctx.codec, store, groupCheckpointKeyOf(ctx.groupId));
    if (keyed !== undefined && keyed.commandTopic === topic) return keyed;
  }
  return storedCheckpoint(ctx.codec, store, checkpointKeyOf(ctx.groupId, topic));
}

/** The checkpoint a store holds under `key`, decoded; undefined for none (or a record of another type). */
export async function storedCheckpoint(codec: Pick<AvroCodec, 'decode'>, store: EntryReader, key: string): Promise<CommandCheckpoint | undefined> {
  const entry = store.getEntry(key);
  if (entry === undefined) return undefined;
  const decoded = await codec.decode(entry.value);
  return decoded.fullName === CHECKPOINT_RECORD ? (decoded.value as CommandCheckpoint) : undefined;
}

/** The store rows of a round's checkpoint records (written to the store with the states after the commit). */
export function checkpointRows(records: readonly Message[], foldVersion: number): Change[] {
  return records.map((m) => checkpointRow({ key: String(m.key), value: m.value as Buffer, foldVersion, summary: { label: null, due: null }, trace: null }));
}
