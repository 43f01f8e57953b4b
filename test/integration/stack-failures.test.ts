/**
 * The stack's failure paths, against the real tools: a service that cannot come
 * up must say which one and why, never hang. Each case runs `stack up` in its own
 * STACK_HOME on free ports, sharing only the download cache.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readStackSettings, repoRoot } from '../../infra/stack/settings';
import { versions } from '../../infra/stack/versions';
import { freePort } from '../../app/chaos/role-process';

const cli = path.join(repoRoot, 'infra', 'stack', 'cli.ts');
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

async function isolatedEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'stack-failure-'));
  const base = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    ...base,
    STACK_HOME: home,
    STACK_CACHE_DIR: readStackSettings().cacheDir, // reuse the downloads; nothing else is shared
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    REGISTRY_PORT: String(await freePort()),
    STACK_START_TIMEOUT_S: '60',
    ...extra,
  };
}

function up(env: Record<string, string>): { status: number | null; output: string } {
  const run = spawnSync(tsx, [cli, 'up'], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('stack:up when something is wrong', () => {
  it('names the port, its holder and the variable when a port is taken', async () => {
    const squatter = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const held = (squatter.address() as net.AddressInfo).port;
    try {
      const result = up(await isolatedEnv({ KAFKA_PORT: String(held) }));
      expect(result.status).toBe(1);
      expect(result.output).toContain(`cannot start kafka: port ${held} is held by pid ${process.pid}`);
      expect(result.output).toContain('set KAFKA_PORT to a free port');
    } finally {
      squatter.close();
    }
  });

  it('says which service died while starting and shows the tail of its log', async () => {
    const env = await isolatedEnv();
    // A log directory formatted for another node: Kafka refuses it at start-up.
    const dataDir = path.join(env.STACK_HOME!, 'data', 'kafka');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'meta.properties'), 'version=1\nnode.id=99\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n');
    const result = up(env);
    expect(result.status).toBe(1);
    expect(result.output).toMatch(/kafka exited with code \d+ while starting\. Last lines of .*kafka\.log/);
    expect(result.output).toMatch(/node\.id|Stored node id|meta\.properties/i);
  });

  it('asks for Java when there is none', async () => {
    const result = up(await isolatedEnv({ JAVA_HOME: '/nonexistent/jdk' }));
    expect(result.status).toBe(1);
    expect(result.output).toContain('Java 17 or newer is needed');
    expect(result.output).toContain('JAVA_HOME');
  });

  it('asks for Maven when it has to download and cannot', async () => {
    const env = await isolatedEnv({ MAVEN_BIN: '/nonexistent/mvn' });
    env.STACK_CACHE_DIR = path.join(env.STACK_HOME!, 'empty-cache');
    const result = up(env);
    expect(result.status).toBe(1);
    expect(result.output).toContain('Maven is needed once');
    expect(fs.existsSync(path.join(env.STACK_CACHE_DIR, `kafka-${versions.kafka}`, '.complete'))).toBe(false);
  });
});
