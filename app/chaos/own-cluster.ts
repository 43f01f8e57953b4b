// A three-node Kafka cluster of a test's own (with its own schema registry and
// Redis), started by the local stack's code (infra/stack/) in a temporary
// STACK_HOME, on ports derived from the caller's: the same cluster
// `STACK_BROKERS=3 npm run stack:up` runs, without touching anyone's stack.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { terminate, tracked } from '../../infra/stack/processes';
import { provision } from '../../infra/stack/provision';
import { kafkaServices, registryService } from '../../infra/stack/services';
import { readStackSettings, type StackSettings } from '../../infra/stack/settings';
import { down, up } from '../../infra/stack/stack';
import { waitFor } from '../../infra/wait-for';

export interface TestCluster {
  readonly settings: StackSettings;
  /** host:port of every node. */
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly redisUrl: string;
  /** What a role process needs to use this cluster (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REDIS_URL). */
  readonly env: Readonly<Record<string, string>>;
  kafka(clientId: string): Kafka;
  /** The pid of a node's JVM, while it runs. */
  pidOf(nodeId: number): number | undefined;
  /** kill -9 of one node: no controlled shutdown, no leadership handed over. */
  kill(nodeId: number): void;
  /** Starts a node that was killed again (its data and ports as before) and waits until it is healthy. */
  startNode(nodeId: number, timeoutMs?: number): Promise<void>;
  /** The node the controller quorum has elected (its leader), as the quorum itself says. */
  activeController(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * `offset` moves the ports of the caller's environment (KAFKA_PORT,
 * KAFKA_CONTROLLER_PORT, REGISTRY_PORT; Redis takes the one above the
 * registry's) by that much, so the cluster stays inside the caller's port
 * range and clear of its stack.
 */
export async function startTestCluster(offset: number, say: (line: string) => void = () => undefined): Promise<TestCluster> {
  const base = readStackSettings();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-cluster-'));
  const settings = readStackSettings({
    ...process.env,
    STACK_HOME: home,
    STACK_DATA_DIR: path.join(home, 'data'),
    STACK_CACHE_DIR: base.cacheDir,
    STACK_BROKERS: '3',
    STACK_KAFKA_SECURITY: 'plaintext',
    KAFKA_PORT: String(base.kafka.port + offset),
    KAFKA_CONTROLLER_PORT: String(base.kafka.controllerPort + offset),
    REGISTRY_PORT: String(base.registry.port + offset),
    // Redis's port is far from the others' (6379 beside 9092): one above the registry keeps it in the caller's range.
    REDIS_PORT: String(base.registry.port + offset + 1),
    KAFKA_HEAP_MB: process.env.KAFKA_HEAP_MB ?? '512',
  });
  const stop = async (): Promise<void> => {
    // Its data goes with it: the registry stops first (a client of the nodes), then the nodes are killed rather
    // than left to wait, one by one, for a controller quorum the others no longer make; down() stops the rest.
    const registry = registryService(settings);
    const registryPid = tracked(registry.pidFile, registry.marker)?.pid;
    if (registryPid !== undefined) await terminate(registryPid, 15_000);
    for (const node of kafkaServices(settings)) {
      const pid = tracked(node.pidFile, node.marker)?.pid;
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    }
    await down(settings, say);
    fs.rmSync(home, { recursive: true, force: true });
  };
  try {
    await up(settings, say);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const brokers = settings.kafka.brokers.map((b) => `${settings.host}:${b.port}`);
  const registryUrl = `http://${settings.host}:${settings.registry.port}/apis/ccompat/v7`;
  const redisUrl = `redis://${settings.host}:${settings.redis.port}`;
  const nodes = kafkaServices(settings);
  const pidOf = (nodeId: number): number | undefined => {
    const node = nodes[nodeId - 1];
    return node === undefined ? undefined : tracked(node.pidFile, node.marker)?.pid;
  };
  return {
    settings,
    brokers,
    registryUrl,
    redisUrl,
    env: { KAFKA_BROKERS: brokers.join(','), SCHEMA_REGISTRY_URL: registryUrl, REDIS_URL: redisUrl },
    kafka: (clientId) => new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING }),
    pidOf,
    kill(nodeId) {
      const pid = pidOf(nodeId);
      if (pid === undefined) throw new Error(`node ${nodeId} of the test cluster is not running`);
      process.kill(pid, 'SIGKILL');
    },
    async startNode(nodeId, timeoutMs = 120_000) {
      const node = nodes[nodeId - 1];
      if (node === undefined) throw new Error(`no node ${nodeId} in the test cluster`);
      await waitFor(`node ${nodeId} to be gone (kill it before starting it again)`, () => (pidOf(nodeId) === undefined ? true : undefined), 10_000, 100);
      node.start(provision(settings, () => undefined));
      await waitFor(`node ${nodeId} to become healthy`, async () => ((await node.healthy()) ? true : undefined), timeoutMs, 250);
    },
    async activeController() {
      const running = settings.kafka.brokers.filter((b) => pidOf(b.nodeId) !== undefined);
      const bootstrap = running.map((b) => `${settings.host}:${b.controllerPort}`).join(',');
      const classpath = provision(settings, () => undefined).kafkaClasspath;
      const { stdout } = await promisify(execFile)(settings.javaBin, ['-cp', classpath, 'org.apache.kafka.tools.MetadataQuorumCommand', '--bootstrap-controller', bootstrap, 'describe', '--status'], { timeout: 60_000 });
      const leader = /LeaderId:\s*(\d+)/.exec(stdout);
      if (leader === null) throw new Error(`no LeaderId in the quorum's status:\n${stdout}`);
      return Number(leader[1]);
    },
    stop,
  };
}
