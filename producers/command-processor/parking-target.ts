// Where the command processor's parking is, for `npm run dlq` and the admin API
// (docs/operations.md "Parked aggregates of the command processor"): an
// aggregate type's parked commands are `<aggregate>-commands`, read from
// `<commands topic>.parked`; its requests go to the commands topic, where the
// processor decides them in order with the commands (command-definition.ts, `requestsOnInput`).
import { aggregateOfCommandParking, DEAD_LETTER_ACTIONS_TOPIC, parkedCommandsTopicName, topicCatalog, type CommandParkingName, type TopicCatalog } from '../../schemas/topics';
import type { ParkingTarget } from '../../infra/stateful/parked-tools';
import { DEFAULT_GROUP } from './processor';

export const isCommandParking = (name: string): name is CommandParkingName => aggregateOfCommandParking(name) !== undefined;

export function commandParkingTargetOf(name: CommandParkingName, options: { readonly catalog?: TopicCatalog; readonly groupId?: string } = {}): ParkingTarget {
  const catalog = options.catalog ?? topicCatalog();
  const aggregate = aggregateOfCommandParking(name);
  if (aggregate === undefined) throw new Error(`"${name}" names no aggregate type's commands`);
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
