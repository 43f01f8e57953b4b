// Where the command processor's parking is, for `npm run dlq` and the admin API
// (docs/operations.md "Parked aggregates of the command processor"): an
// aggregate type's parked commands are `<aggregate>-commands`, read from
// `<commands topic>.parked`; its requests go to the commands topic, where the
// processor decides them in order with the commands (parking.ts).
import { DEAD_LETTER_ACTIONS_TOPIC, parkedCommandsTopicName, topicCatalog, type AggregateName, type TopicCatalog } from '../../schemas/topics';
import type { ParkingTarget } from '../../infra/stateful/parked-tools';
import { commandParkingName } from './parking';
import { DEFAULT_GROUP } from './processor';

export type CommandParkingName = `${AggregateName}-commands`;

/** The aggregate types with a commands topic, as their parking names. */
export const COMMAND_PARKINGS: readonly CommandParkingName[] = topicCatalog()
  .topics.filter((t) => t.role === 'commands' && t.aggregate !== null)
  .map((t) => commandParkingName(t.aggregate as AggregateName) as CommandParkingName);

export const isCommandParking = (name: string): name is CommandParkingName => (COMMAND_PARKINGS as readonly string[]).includes(name);

export function commandParkingTargetOf(name: CommandParkingName, options: { readonly catalog?: TopicCatalog; readonly groupId?: string } = {}): ParkingTarget {
  const catalog = options.catalog ?? topicCatalog();
  const aggregate = name.slice(0, -'-commands'.length) as AggregateName;
  const commands = catalog.forAggregate(aggregate).commands;
  if (commands === undefined) throw new Error(`${aggregate} has no commands topic`);
  const parked = catalog.topic(parkedCommandsTopicName(commands.name));
  const actions = catalog.topic(DEAD_LETTER_ACTIONS_TOPIC);
  return {
    name,
    groupId: options.groupId ?? DEFAULT_GROUP,
    parked: { logical: parked.name, physical: parked.name, partitions: parked.partitions },
    actions: { physical: actions.name, partitions: actions.partitions },
    requests: { logical: commands.name, physical: commands.name, partitions: commands.partitions },
  };
}
