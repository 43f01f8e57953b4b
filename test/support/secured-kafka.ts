// A secured Kafka broker of the test's own (SASL/SCRAM-SHA-512, StandardAuthorizer,
// no access without an ACL), started from the local stack's cached jars with the
// stack's own code, on free ports and in a temporary STACK_HOME; stop() kills it
// and removes its data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, type logCreator } from 'kafkajs';
import { KAFKA_ADMIN } from '../../infra/kafka/principals';
import { readCredentials, type Credentials } from '../../infra/stack/credentials';
import { terminate, tailOf } from '../../infra/stack/processes';
import { provision } from '../../infra/stack/provision';
import { kafkaService } from '../../infra/stack/services';
import { readStackSettings, type StackSettings } from '../../infra/stack/settings';
import { freePort } from '../../app/chaos/role-process';
import { waitFor } from '../../infra/wait-for';

export interface SecuredKafka {
  readonly settings: StackSettings;
  /** host:port of the SASL_PLAINTEXT listener. */
  readonly bootstrap: string;
  readonly credentials: Credentials;
  /** A client that authenticates as this SASL user (its password from the credentials file). */
  kafkaAs(user: string, clientId?: string, log?: { readonly level: logLevel; readonly creator: logCreator }): Kafka;
  /** The environment a role process needs to reach this broker as `user`. */
  envFor(user: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startSecuredKafka(timeoutMs = 60_000): Promise<SecuredKafka> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'secured-kafka-'));
  const settings = readStackSettings({
    ...process.env,
    STACK_HOME: home,
    STACK_DATA_DIR: path.join(home, 'data'),
    STACK_KAFKA_SECURITY: 'sasl',
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    REGISTRY_PORT: String(await freePort()),
    KAFKA_HEAP_MB: '512',
  });
  const service = kafkaService(settings);
  fs.mkdirSync(settings.logDir, { recursive: true });
  const launched = service.start(provision(settings, () => undefined));
  const stop = async (): Promise<void> => {
    await terminate(launched.pid, 10_000);
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    await waitFor('the secured broker to come up', async () => ((await service.healthy()) ? true : undefined), timeoutMs, 300);
  } catch (error) {
    const log = tailOf(service.logFile, 40);
    await stop();
    throw new Error(`the secured broker did not come up within ${timeoutMs} ms:\n${log}`, { cause: error });
  }
  const credentials = readCredentials(home);
  const bootstrap = service.address;
  const passwordOf = (user: string): string => {
    const password = credentials.kafka[user];
    if (password === undefined) throw new Error(`no SASL user ${user} on the secured broker`);
    return password;
  };
  return {
    settings,
    bootstrap,
    credentials,
    kafkaAs: (user, clientId = `test.${user}`, log) =>
      new Kafka({
        clientId,
        brokers: [bootstrap],
        sasl: { mechanism: 'scram-sha-512', username: user, password: passwordOf(user) },
        logLevel: log?.level ?? logLevel.NOTHING,
        ...(log === undefined ? {} : { logCreator: log.creator }),
        retry: { retries: 2, initialRetryTime: 100 },
      }),
    envFor: (user) => ({ KAFKA_BROKERS: bootstrap, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: user, KAFKA_SASL_PASSWORD: passwordOf(user) }),
    stop,
  };
}

export { KAFKA_ADMIN };
