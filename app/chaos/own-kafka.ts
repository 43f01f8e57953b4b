// A plaintext Kafka broker of the test's own, started from the local stack's
// cached jars with the stack's own code, on free ports and in a temporary
// STACK_HOME: a test can kill it (-9) and start it again on the same ports and
// data without disturbing any other test. The schema registry and Redis stay
// the normal stack's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { isAlive, tailOf, terminate } from '../../infra/stack/processes';
import { provision } from '../../infra/stack/provision';
import { kafkaService } from '../../infra/stack/services';
import { readStackSettings } from '../../infra/stack/settings';
import { freePort } from './role-process';
import { waitFor } from '../../infra/wait-for';

export interface OwnKafka {
  /** host:port of the broker. */
  readonly bootstrap: string;
  /** The environment a role process needs to use this broker. */
  readonly env: Record<string, string>;
  kafka(clientId?: string): Kafka;
  /** Starts the broker (again, on the same ports and data) and waits until it answers. */
  start(timeoutMs?: number): Promise<void>;
  /** kill -9 of the broker's JVM; resolves once it is gone. */
  kill(): Promise<void>;
  /** Stops the broker and removes its data. */
  stop(): Promise<void>;
}

/** Reserves the ports and the data directory; the broker is not started until start(). */
export async function ownKafka(): Promise<OwnKafka> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'own-kafka-'));
  const settings = readStackSettings({
    ...process.env,
    STACK_HOME: home,
    STACK_DATA_DIR: path.join(home, 'data'),
    STACK_KAFKA_SECURITY: 'plaintext',
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    REGISTRY_PORT: String(await freePort()),
    KAFKA_HEAP_MB: '512',
  });
  const service = kafkaService(settings);
  fs.mkdirSync(settings.logDir, { recursive: true });
  let pid: number | undefined;
  const bootstrap = service.address;
  const kill = async (): Promise<void> => {
    if (pid === undefined) return;
    const target = pid;
    pid = undefined;
    process.kill(target, 'SIGKILL');
    await waitFor(`the broker (pid ${target}) to exit`, () => (isAlive(target) ? undefined : true), 30_000, 50);
  };
  return {
    bootstrap,
    env: { KAFKA_BROKERS: bootstrap },
    kafka: (clientId = 'test.own-kafka') => new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } }),
    async start(timeoutMs = 60_000) {
      if (pid !== undefined) return;
      pid = service.start(provision(settings, () => undefined)).pid;
      try {
        await waitFor("the test's broker to come up", async () => ((await service.healthy()) ? true : undefined), timeoutMs);
      } catch (error) {
        throw new Error(`the test's broker did not come up within ${timeoutMs} ms:\n${tailOf(service.logFile, 40)}`, { cause: error });
      }
    },
    kill,
    async stop() {
      if (pid !== undefined) await terminate(pid, 10_000);
      pid = undefined;
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
