/**
 * npm run stack:up | stack:down | stack:status
 *
 * The local stack without Docker: Kafka (KRaft, one node, or STACK_BROKERS=3 for a
 * cluster of three broker+controller nodes) and Apicurio Registry from Maven Central,
 * and Redis (the one already running, or a redis-server we start).
 */
import { ProvisionError } from './provision';
import { readStackSettings, StackConfigError } from './settings';
import { down, status, StackError, up, type ServiceStatus } from './stack';

function table(rows: readonly ServiceStatus[]): string {
  return rows
    .map((r) => {
      const who = r.state === 'external' ? 'already running, not ours' : r.pid ? `pid ${r.pid}` : '';
      const log = r.logFile ? `log ${r.logFile}` : '';
      return `${r.name.padEnd(9)} ${r.state.padEnd(9)} ${r.address.padEnd(42)} ${who.padEnd(26)} ${log}`.trimEnd();
    })
    .join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [verb, ...flags] = argv;
  const quiet = flags.includes('--quiet');
  const settings = readStackSettings();
  const say = (line: string): void => console.log(line);
  switch (verb) {
    case 'up': {
      const rows = await up(settings, say);
      if (!quiet) console.log(`local stack is up (data in ${settings.dataDir})\n${table(rows)}`);
      return 0;
    }
    case 'down':
      await down(settings, say);
      return 0;
    case 'status': {
      const rows = await status(settings);
      console.log(table(rows));
      return rows.every((r) => r.state === 'running' || r.state === 'external') ? 0 : 3;
    }
    default:
      console.error('usage: tsx infra/stack/cli.ts up [--quiet] | down | status');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof StackError || error instanceof ProvisionError || error instanceof StackConfigError) {
      console.error(`stack: ${error.message}`);
    } else {
      console.error('stack: unexpected failure', error);
    }
    process.exit(1);
  },
);
