// One aggregate type's commands as a definition on the stateful runtime
// (infra/stateful/, docs/stateful-runtime.md); the command processor
// (processor.ts) runs one per aggregate type as the parts of one runtime
// (docs/command-side.md "The processor's definition on the runtime").
//
// * Inputs: the aggregate's commands topic, keyed by aggregate id; the state
//   of an aggregate is its entry (handle.ts), stored on its snapshots topic as
//   the processor's snapshot record (command-state.ts), with the `fold-version`
//   header; positions are checkpoints on that topic (`positions: 'changelog'`),
//   under the processor's key `@checkpoint/<group>` (`checkpointKey: 'group'`).
// * Deciding: handle.ts's handleCommand, unchanged (authorization, duplicates
//   from the memory of the last 64 replies, If-Match, the deciders).
// * Events go to the aggregate's events topic, keyed and headed as the
//   processor writes them; the events topic is `sequenced`, so each reply is
//   completed with its events' offsets (`after`) and remembered with them
//   (`completeState`, as `withReply` does).
// * A reply per command on restaurant.command-replies, partition p mod R
//   (reply-route.ts), keyed by commandId.
// * Parking: an undecodable command, or a record that is no command
//   (`unhandled: 'dead-letter'`, `unknown-record`), parks its aggregate (by
//   Kafka key, as the processor does); later commands of a parked aggregate are refused at once
//   with `aggregate_parked` and the aggregate's version (`refuseBehind`);
//   operators' requests are read on the commands topic, where the tools write
//   them for the processor (`requestsOnInput`).
// * Fold versions: a partition of snapshots folded by another fold version is
//   refused with the processor's words and advice (`foldRefusal`:
//   `npm run snapshots:rebuild -- <aggregate>`).
import type { CommandMetadata, CommandReply } from '../../schemas/generated/types';
import { partitionFor } from '../../schemas/partitioning';
import { COMMAND_REPLIES_TOPIC, commandParkingName, parkedCommandsTopicName, topicCatalog, type TopicCatalog } from '../../schemas/topics';
import { eventMessage, type Decision, type DecodedRecord, type Outgoing, type StatefulDefinition } from '../../infra/stateful/definition';
import { REQUEST_KEY_PREFIX, type ParkedProcess } from '../../infra/stateful/parking';
import type { AggregateRuntime } from './aggregates';
import { foldVersionOf, snapshotsRefusal } from './fold-version';
import { parkedReply, REPLY_RECORD, replyWithEvents } from './command-records';
import { commandState, initialCommandState, stateOfSnapshot, type CommandState } from './command-state';
import { handleCommand, withReply, type Handled } from './handle';
import { partitionAnchor, replyPartition } from './reply-route';

export const COMMAND_PROCESSOR_GROUP = 'restaurant.command-processor';

/** A consumed record of the commands topic as an input. */
export type CommandInput =
  | { readonly kind: 'command'; readonly type: string; readonly data: object; readonly metadata: CommandMetadata }
  /** A record that decodes but is no command of this aggregate: its decision throws, so it is dead-lettered and parks its aggregate. */
  | { readonly kind: 'foreign'; readonly aggregateId: string; readonly fullName: string; readonly where: string };

/** The catalog topics of one aggregate's commands. */
export interface CommandTopics {
  readonly commands: string;
  readonly events: string;
  readonly snapshots: string;
  /** Where its parked commands are (the runtime's `parkedTopic`). */
  readonly parked: string;
  readonly replies: string;
}

export function commandTopicsOf(catalog: TopicCatalog, runtime: Pick<AggregateRuntime, 'aggregate'>): CommandTopics {
  const t = catalog.forAggregate(runtime.aggregate);
  if (!t.commands || !t.events || !t.snapshots) throw new Error(`the catalog lacks topics for ${runtime.aggregate}`);
  return { commands: t.commands.name, events: t.events.name, snapshots: t.snapshots.name, parked: parkedCommandsTopicName(t.commands.name), replies: COMMAND_REPLIES_TOPIC };
}

export interface CommandDefinitionOptions {
  readonly runtime: AggregateRuntime;
  readonly catalog?: TopicCatalog;
  /** Default: the processor's group. */
  readonly groupId?: string;
  readonly clock?: () => number;
  /** The physical name of a catalog topic, as replies name their events' topic (a runtime on topics of its own maps them with its `topicMap`). */
  readonly physical?: (topic: string) => string;
}

/** A command state's status label: `new` before its first event, else its snapshot's status, or `exists` for an aggregate without one. */
const statusOf = (version: number, status: unknown): string => (version === 0 ? 'new' : typeof status === 'string' ? status : 'exists');

/** What a command changes: the decision the runtime writes (docs/command-side.md "The processor's definition on the runtime"). */
export function commandDefinition(options: CommandDefinitionOptions): StatefulDefinition<CommandState, CommandInput> {
  const { runtime } = options;
  const catalog = options.catalog ?? topicCatalog();
  const clock = options.clock ?? Date.now;
  const physical = options.physical ?? ((topic: string) => topic);
  const topics = commandTopicsOf(catalog, runtime);
  const commandPartitions = catalog.topic(topics.commands).partitions;
  const repliesPartitions = catalog.topic(topics.replies).partitions;
  const commandNames = new Set(catalog.topic(topics.commands).subjects.map((s) => s.recordName).filter((n) => n.startsWith(`${runtime.namespace}.`)));
  const shortName = (fullName: string): string => fullName.slice(fullName.lastIndexOf('.') + 1);

  /** A reply as the processor writes it: partition p mod R of the replies topic, keyed by commandId, its status in a header. */
  const replyMessage = (reply: CommandReply): Outgoing => ({
    topic: topics.replies,
    key: reply.commandId,
    partitionKey: partitionAnchor(replyPartition(partitionFor(reply.aggregateId, commandPartitions), repliesPartitions), repliesPartitions),
    recordName: REPLY_RECORD,
    value: reply,
    id: reply.commandId,
    type: 'CommandReply',
    headers: { 'reply-status': reply.status },
  });

  const decideCommand = (input: Extract<CommandInput, { kind: 'command' }>, state: CommandState): Decision<CommandState> => {
    const { metadata } = input;
    const id = metadata.aggregateId;
    const handled: Handled = handleCommand(runtime, state.version > 0 ? state : undefined, { type: input.type, data: input.data }, metadata, clock());
    if (handled.duplicate) {
      const { reply } = handled;
      // Final as remembered (a rejection, or events with their offsets): answered, nothing written.
      if (reply.status === 'REJECTED' || reply.events.length > 0) return { emit: [replyMessage(reply)], state, changed: false };
      // Perhaps decided earlier in this round, its offsets not known yet: answered from the state as the round completes it.
      return { emit: [], state, changed: true, after: (_offsets, completed) => [replyMessage(completed.recentCommands.find((r) => r.commandId === reply.commandId) ?? reply)] };
    }
    // Nothing about the aggregate to persist (forbidden, or a rejection of an aggregate that does not exist): only the answer.
    if (handled.entry === undefined) return { emit: [replyMessage(handled.reply)], state, changed: false };
    const next = commandState(runtime, id, handled.entry);
    if (handled.events.length === 0) return { emit: [replyMessage(handled.reply)], state: next, changed: true };
    const events = handled.events.map((e) => eventMessage(topics.events, runtime.namespace, e.type, e.record, e.record.metadata));
    const partition = partitionFor(id, commandPartitions);
    const final = (offsets: ReadonlyArray<{ readonly id: string; readonly offset: number }>): CommandReply =>
      replyWithEvents(handled.reply, handled.events, id, physical(topics.events), partition, handled.events.map((e) => offsets.find((o) => o.id === e.record.metadata.eventId)?.offset ?? -1));
    return {
      emit: events,
      state: next,
      changed: true,
      after: (offsets) => [replyMessage(final(offsets))],
      completeState: (s, offsets) => withReply(s, final(offsets)),
    };
  };

  return {
    // The processor's parking name (`order-commands`): the actions recorded for operators' requests name it as their read model.
    name: commandParkingName(runtime.aggregate),
    foldVersion: foldVersionOf(runtime),
    // The processor's refusal and advice (`npm run snapshots:rebuild -- <aggregate>`), not the runtime's `states:migrate`: the snapshots are rebuilt from the events.
    foldRefusal: (why) => snapshotsRefusal(runtime.aggregate, why),
    // The span of each decision: `command-processor decide <type>` (docs/tracing.md).
    stepSpanName: (type) => `command-processor decide ${type}`,
    groupId: options.groupId ?? COMMAND_PROCESSOR_GROUP,
    inputs: [topics.commands],
    handles: new Set([...commandNames].map(shortName)),
    // What is no command on the commands topic is dead-lettered (`unknown-record`) and parks its aggregate.
    unhandled: 'dead-letter',
    stateRecord: runtime.snapshotRecord,
    positions: 'changelog',
    // The processor's checkpoint key (`@checkpoint/<group>`), as builds before the runtime wrote it: they resume at each other's position.
    checkpointKey: 'group',
    sequenced: [topics.events],
    inputsFor: (records) => Promise.resolve(records.map((r) => toInput(r, commandNames))),
    processId: (input) => (input.kind === 'command' ? input.metadata.aggregateId : input.aggregateId),
    initialState: () => initialCommandState(runtime),
    fromStateRecord: (record) => stateOfSnapshot(runtime, record),
    decide(input, state) {
      if (input.kind === 'foreign') throw new Error(`${input.where}: ${input.fullName} is not a command of ${runtime.aggregate}`);
      return decideCommand(input, state);
    },
    deadlines: () => [],
    deadlineInput: () => {
      throw new Error(`${runtime.aggregate} commands have no deadlines`);
    },
    status: (state) => statusOf(state.version, state.status),
    // A restore reads only a snapshot's version and status for its summary (the snapshot's own fields, which the state keeps as they are).
    summaryOfFields: { fields: ['version', 'status'], summary: (record) => ({ label: statusOf(Number(record.version ?? 0), record.status), due: null }) },
    parking: {
      processIdOfKey: aggregateOfKey,
      // Operators' requests on the commands topic, where `npm run dlq` and the admin API write them for the processor.
      requestsOnInput: true,
      // Refused with the aggregate's version (its last good state), as the processor's `aggregate_parked` reply.
      refuseBehind: (record: DecodedRecord, parked: ParkedProcess, state: CommandState | undefined) => {
        const { metadata } = record.value as { readonly metadata: CommandMetadata };
        return [replyMessage(parkedReply(metadata, record.fullName, runtime.aggregate, state?.version ?? 0, parked, clock()))];
      },
    },
  };
}

/** A record of the commands topic as an input; an operator's request there is decided by the runtime (`requestsOnInput`), never an input. */
/** The aggregate a command's Kafka key names (commands are keyed by aggregate id); a request (`request/<id>`) names none. */
const aggregateOfKey = (key: string): string | undefined => (key === '' || key.startsWith(REQUEST_KEY_PREFIX) ? undefined : key);

function toInput(record: DecodedRecord, commandNames: ReadonlySet<string>): CommandInput | null {
  if (record.type === 'ParkingRequest') return null;
  const where = `${record.topic}/${record.partition}@${record.offset}`;
  if (!commandNames.has(record.fullName)) return { kind: 'foreign', aggregateId: record.key?.toString() ?? '', fullName: record.fullName, where };
  const { metadata, ...data } = record.value as { readonly metadata: CommandMetadata } & Record<string, unknown>;
  return { kind: 'command', type: record.fullName.slice(record.fullName.lastIndexOf('.') + 1), data, metadata };
}
