// The arguments of `npm run dlq` (cli.ts), parsed and checked without I/O.
import { parseArgs } from 'node:util';
import { assertKeyspace, DEFAULT_KEYSPACE, READ_MODELS, type ReadModelName } from '../shared/keys';
import { isReadModel } from '../runtime/read-models';
import { ActionInputError, type RedriveSelection } from './actions';
import { aggregateOfCommandParking, commandParkings, PROCESS_MANAGERS, type CommandParkingName, type ProcessManagerName } from '../../../schemas/topics';
import { processManagerOf } from '../../process-managers/redrive/redrive';


/** What the dead-letter tools act on: a read model's parked aggregates, a process manager's parked processes, or the command processor's parked aggregates of one type (`<aggregate>-commands`). */
export type DlqModel = ReadModelName | ProcessManagerName | CommandParkingName;
const COMMAND_PARKINGS = commandParkings();
export const DLQ_MODELS: readonly DlqModel[] = [...READ_MODELS, ...PROCESS_MANAGERS, ...COMMAND_PARKINGS];

/** A read model, a process manager by its name or consumer group, or an aggregate type's commands; undefined for none. */
export function dlqModelOf(name: string): DlqModel | undefined {
  return isReadModel(name) ? name : (processManagerOf(name) ?? (aggregateOfCommandParking(name) !== undefined && COMMAND_PARKINGS.includes(name as CommandParkingName) ? (name as CommandParkingName) : undefined));
}

export const USAGE = `usage:
  npm run dlq -- list     [--model <read-model|process-manager|aggregate-commands>] [--reason <reason>]
  npm run dlq -- show     --model <read-model|process-manager|aggregate-commands> --aggregate <id>
  npm run dlq -- redrive  --model <read-model|process-manager|aggregate-commands> (--aggregate <id> | --reason <reason> | --all) [--why <text>] [--actor <name>]
  npm run dlq -- skip     --model <read-model|process-manager|aggregate-commands> --aggregate <id> [--event <topic>:<partition>:<offset>] --why <text> [--actor <name>]
options: --keyspace <keyspace> (default: the keyspace serving the read model)
read models: ${READ_MODELS.join(', ')}
process managers (by name or consumer group; --aggregate is the process id): ${PROCESS_MANAGERS.join(', ')}
the command processor's parked aggregates (--aggregate is the aggregate id): ${COMMAND_PARKINGS.join(', ')}`;

interface Common {
  /** The keyspace given with --keyspace; undefined: the one serving the model. */
  readonly keyspace: string | undefined;
  /** The deployment's base keyspace (READ_MODEL_KEYSPACE, default live). */
  readonly base: string;
}

export type DlqCommand = Common &
  (
    | { readonly command: 'list'; readonly models: readonly DlqModel[]; readonly reason: string | undefined }
    | { readonly command: 'show'; readonly model: DlqModel; readonly aggregateId: string }
    | { readonly command: 'redrive'; readonly model: DlqModel; readonly selection: RedriveSelection; readonly actor: string; readonly why: string }
    | { readonly command: 'skip'; readonly model: DlqModel; readonly aggregateId: string; readonly event: string | undefined; readonly actor: string; readonly why: string }
  );

/** "<topic>:<partition>:<offset>", as a parked chain names its events. */
export const EVENT_POSITION = /^.+:\d+:\d+$/;

const fail = (message: string): never => {
  throw new ActionInputError(`${message}\n${USAGE}`);
};

/** Parses the CLI's arguments; throws ActionInputError (exit code 2) on anything wrong. */
export function parseDlqArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, osUser: string): DlqCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        model: { type: 'string' },
        keyspace: { type: 'string' },
        aggregate: { type: 'string' },
        reason: { type: 'string' },
        all: { type: 'boolean', default: false },
        event: { type: 'string' },
        why: { type: 'string' },
        actor: { type: 'string' },
      },
    });
  } catch (cause) {
    return fail((cause as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) return fail('name one command: list, show, redrive or skip');
  const command = positionals[0] as string;
  let base: string;
  let keyspace: string | undefined;
  try {
    base = assertKeyspace(env.READ_MODEL_KEYSPACE ?? DEFAULT_KEYSPACE);
    keyspace = values.keyspace === undefined ? undefined : assertKeyspace(values.keyspace);
  } catch (cause) {
    return fail((cause as Error).message);
  }
  const common = { base, keyspace };
  const model = (): DlqModel => {
    if (values.model === undefined) return fail('--model is required');
    return dlqModelOf(values.model) ?? fail(`unknown read model or process manager "${values.model}"`);
  };
  const aggregate = (): string => (values.aggregate === undefined || values.aggregate === '' ? fail('--aggregate is required') : values.aggregate);
  const actor = values.actor ?? osUser;
  if (actor.trim() === '') return fail('--actor must not be empty');
  switch (command) {
    case 'list':
      return { ...common, command, models: values.model === undefined ? [...DLQ_MODELS] : [model()], reason: values.reason };
    case 'show':
      return { ...common, command, model: model(), aggregateId: aggregate() };
    case 'redrive': {
      const chosen = [values.aggregate !== undefined, values.reason !== undefined, values.all === true].filter(Boolean).length;
      if (chosen !== 1) return fail('redrive takes exactly one of --aggregate, --reason, --all');
      const selection: RedriveSelection = values.aggregate !== undefined ? { aggregateId: aggregate() } : values.reason !== undefined ? { reason: values.reason } : { all: true };
      return { ...common, command, model: model(), selection, actor, why: values.why ?? '' };
    }
    case 'skip': {
      if (values.why === undefined || values.why.trim() === '') return fail('skip needs a reason: --why <text>');
      if (values.event !== undefined && !EVENT_POSITION.test(values.event)) return fail(`--event "${values.event}" is not <topic>:<partition>:<offset>`);
      return { ...common, command, model: model(), aggregateId: aggregate(), event: values.event, actor, why: values.why };
    }
    default:
      return fail(`unknown command "${command}"`);
  }
}
