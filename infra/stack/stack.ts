import fs from 'node:fs';
import { provision, type Artifacts } from './provision';
import { holderOf, listening, tailOf, terminate, tracked } from './processes';
import { allServices, serviceStages, type Service } from './services';
import type { StackSettings } from './settings';

/** A service did not come up; the message names it and carries the tail of its log. */
export class StackError extends Error {
  override readonly name = 'StackError';
}

export type ServiceState = 'running' | 'external' | 'starting' | 'down';

export interface ServiceStatus {
  readonly kind: Service['kind'];
  readonly name: string;
  readonly state: ServiceState;
  readonly address: string;
  readonly pid?: number;
  readonly logFile?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function statusOf(service: Service): Promise<ServiceStatus> {
  const ours = tracked(service.pidFile, service.marker);
  const healthy = await service.healthy();
  const base = { kind: service.kind, name: service.name, address: service.address };
  if (ours) return { ...base, state: healthy ? 'running' : 'starting', pid: ours.pid, logFile: service.logFile };
  return { ...base, state: healthy ? 'external' : 'down' };
}

export function status(settings: StackSettings): Promise<ServiceStatus[]> {
  return Promise.all(allServices(settings).map(statusOf));
}

async function waitHealthy(service: Service, timeoutMs: number, exited?: Promise<number | null>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited?.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (await service.healthy()) return;
    if (exitCode !== undefined) {
      throw new StackError(
        `${service.name} exited with code ${exitCode} while starting. Last lines of ${service.logFile}:\n` +
          tailOf(service.logFile, 40),
      );
    }
    await sleep(500);
  }
  const ours = tracked(service.pidFile, service.marker);
  if (ours) await terminate(ours.pid, 5000);
  throw new StackError(
    `${service.name} did not become healthy at ${service.address} within ${Math.round(timeoutMs / 1000)} s` +
      ` (STACK_START_TIMEOUT_S raises the limit); it was stopped. Last lines of ${service.logFile}:\n` +
      tailOf(service.logFile, 40),
  );
}

async function bringUp(service: Service, settings: StackSettings, artifacts: () => Artifacts): Promise<ServiceStatus> {
  const current = await statusOf(service);
  if (current.state === 'running' || current.state === 'external') return current;
  if (current.state === 'starting') {
    await waitHealthy(service, settings.startTimeoutMs);
    return statusOf(service);
  }
  for (const { port, env } of service.ports) {
    if (await listening(settings.host, port)) {
      throw new StackError(
        `cannot start ${service.name}: port ${port} is held by ${holderOf(port)}, which does not answer as ${service.name}.` +
          ` Stop it, or set ${env} to a free port.`,
      );
    }
  }
  if (service.kind === 'redis' && !commandExists('redis-server')) {
    throw new StackError(
      `nothing answers at ${service.address} and redis-server is not installed (Debian: apt-get install redis-server).`,
    );
  }
  fs.mkdirSync(settings.logDir, { recursive: true });
  fs.appendFileSync(service.logFile, `\n==== stack:up starting ${service.name} at ${new Date().toISOString()} ====\n`);
  const launched = service.start(artifacts());
  await waitHealthy(service, settings.startTimeoutMs, launched.exited);
  return statusOf(service);
}

function commandExists(command: string): boolean {
  const paths = (process.env.PATH ?? '').split(':');
  return paths.some((dir) => {
    try {
      fs.accessSync(`${dir}/${command}`, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Idempotent: starts what is not running, downloads what is not cached, waits
 * until each service is healthy. The services of a stage (the nodes of a
 * cluster) start together: none of them is healthy before enough of the others run.
 */
export async function up(settings: StackSettings, say: (line: string) => void): Promise<ServiceStatus[]> {
  let cached: Artifacts | undefined;
  const artifacts = (): Artifacts => (cached ??= provision(settings, say));
  const result: ServiceStatus[] = [];
  for (const stage of serviceStages(settings)) {
    const before = Date.now();
    const states = await Promise.all(stage.map((service) => bringUp(service, settings, artifacts)));
    for (const [i, service] of stage.entries()) {
      const s = states[i] as ServiceStatus;
      if (s.state === 'running' || s.state === 'external') await service.prepare?.();
      if (s.state === 'running' && Date.now() - before > 1500) say(`${service.name} started in ${((Date.now() - before) / 1000).toFixed(1)} s`);
      result.push(s);
    }
  }
  return result;
}

/**
 * Stops what this stack started (never a service it found running); the
 * registry first, Kafka after it. A cluster's nodes stop together: a node
 * stopping alone waits for a controller quorum that its stopped peers no
 * longer make.
 */
export async function down(settings: StackSettings, say: (line: string) => void): Promise<void> {
  // Zipkin too when this stack started it, whether or not STACK_ZIPKIN is set now.
  for (const stage of [...serviceStages({ ...settings, zipkin: { ...settings.zipkin, enabled: true } })].reverse()) {
    await Promise.all(
      stage.map(async (service) => {
        const ours = tracked(service.pidFile, service.marker);
        if (!ours) {
          if (service.kind === 'zipkin' && !settings.zipkin.enabled) return;
          say(`${service.name}: not started by this stack, left alone`);
          return;
        }
        const how = await terminate(ours.pid, 30_000);
        fs.rmSync(service.pidFile, { force: true });
        say(`${service.name}: ${how} (pid ${ours.pid})`);
      }),
    );
  }
}
