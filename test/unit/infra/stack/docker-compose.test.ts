import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { kafkaProperties } from '../../../../infra/stack/services';
import { readStackSettings, repoRoot } from '../../../../infra/stack/settings';
import { versions } from '../../../../infra/stack/versions';

/**
 * docker-compose.yml is the Docker twin of `npm run stack:up`. Nothing here runs
 * Docker (the build machines have no engine); the file is parsed and held to
 * infra/stack/: the same images as versions.ts, the same host ports as
 * settings.ts, the same broker settings as the server.properties infra/stack/kafka-nodes.ts writes.
 */

type Doc = Record<string, unknown>;

const settings = readStackSettings({});
const compose = parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')) as Doc;

function isRecord(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function services(): Record<string, Doc> {
  const all = compose.services;
  if (!isRecord(all)) throw new Error('docker-compose.yml has no services mapping');
  return all as Record<string, Doc>;
}

function service(name: string): Doc {
  const found = services()[name];
  if (!isRecord(found)) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** `repo:tag` → tag; a digest or a missing tag yields undefined. */
function imageTag(name: string): string | undefined {
  const image = service(name).image;
  if (typeof image !== 'string') return undefined;
  const match = /^[^@]+:([^:/@]+)$/.exec(image);
  return match?.[1];
}

function imageRepo(name: string): string | undefined {
  const image = service(name).image;
  return typeof image === 'string' ? image.replace(/:[^:/]+$/, '') : undefined;
}

/** Both compose forms of `environment` (mapping or list of KEY=VALUE), as strings. */
function environment(name: string): Record<string, string> {
  const env = service(name).environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const text = String(entry);
        const eq = text.indexOf('=');
        return eq < 0 ? [text, ''] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  if (!isRecord(env)) throw new Error(`service "${name}" has an unreadable environment`);
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** The host port published for a container port, from the short ("[ip:]host:container") or long form. */
function publishedPort(name: string, containerPort: number): number | undefined {
  const ports = service(name).ports;
  if (!Array.isArray(ports)) return undefined;
  for (const entry of ports) {
    if (isRecord(entry)) {
      if (Number(entry.target) === containerPort && entry.published !== undefined) return Number(entry.published);
      continue;
    }
    const parts = String(entry).replace(/\/(tcp|udp)$/, '').split(':');
    if (parts.length < 2) continue;
    const target = Number(parts[parts.length - 1]);
    const host = Number(parts[parts.length - 2]);
    if (target === containerPort) return host;
  }
  return undefined;
}

/** The apache/kafka image's convention: KAFKA_A_B → a.b, `__` → `_`, `___` → `-`. */
function kafkaEnvToProperty(envName: string): string {
  return envName
    .replace(/^KAFKA_/, '')
    .split('___')
    .map((dashed) =>
      dashed
        .split('__')
        .map((underscored) => underscored.split('_').join('.'))
        .join('_'),
    )
    .join('-')
    .toLowerCase();
}

/** The broker configuration the kafka service ends up with, as server.properties keys. */
function composeBrokerProperties(): Map<string, string> {
  const props = new Map<string, string>();
  for (const [key, value] of Object.entries(environment('kafka'))) {
    if (key.startsWith('KAFKA_')) props.set(kafkaEnvToProperty(key), value);
  }
  return props;
}

function parseProperties(text: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    props.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
  }
  return props;
}

/** `NAME://host:port,...` → { NAME: 'host:port' }. */
function listeners(value: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (value ?? '')
      .split(',')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const [name, address] = l.trim().split('://');
        return [name ?? '', address ?? ''];
      }),
  );
}

describe('docker-compose.yml runs the same components as the local stack', () => {
  it('uses Kafka, Apicurio Registry and Redis at the versions in infra/stack/versions.ts', () => {
    expect(imageRepo('kafka')).toBe('apache/kafka');
    expect(imageTag('kafka')).toBe(versions.kafka);
    expect(imageRepo('registry')).toBe('apicurio/apicurio-registry');
    expect(imageTag('registry')).toBe(versions.apicurio);
    expect(imageRepo('redis')).toBe('redis');
    // 7.0 itself, or a patch/variant of it (7.0.15, 7.0-alpine), never 7.01 or 7.2.
    expect(imageTag('redis')).toMatch(new RegExp(`^${versions.redis.replace(/\./g, '\\.')}($|[.-])`));
  });

  it('runs Zipkin at the version and port of the local stack (STACK_ZIPKIN=1)', () => {
    expect(imageRepo('zipkin')).toBe('openzipkin/zipkin');
    expect(imageTag('zipkin')).toBe(versions.zipkin);
    expect(publishedPort('zipkin', 9411)).toBe(settings.zipkin.port);
  });

  it('pins Prometheus to Debian 12’s v2.42.0 and Grafana to one 11.x release', () => {
    expect(service('prometheus').image).toBe('prom/prometheus:v2.42.0');
    expect(imageRepo('grafana')).toBe('grafana/grafana');
    expect(imageTag('grafana')).toMatch(/^11\.\d+\.\d+$/);
  });

  it('publishes the local stack’s default ports on the host', () => {
    expect(publishedPort('kafka', 9092)).toBe(settings.kafka.port);
    expect(publishedPort('registry', 8080)).toBe(settings.registry.port);
    expect(publishedPort('redis', 6379)).toBe(settings.redis.port);
  });

  it('keeps the KRaft controller listener off the host', () => {
    expect(publishedPort('kafka', settings.kafka.controllerPort)).toBeUndefined();
  });

  it('gives every service a healthcheck', () => {
    const names = Object.keys(services());
    expect(names).toEqual(expect.arrayContaining(['kafka', 'registry', 'redis', 'zipkin', 'prometheus', 'grafana']));
    for (const name of names) {
      const check = service(name).healthcheck;
      expect({ name, check }).toEqual({ name, check: expect.objectContaining({ test: expect.anything() }) });
      if (!isRecord(check)) continue;
      expect({ name, disabled: check.disable === true || (Array.isArray(check.test) && check.test[0] === 'NONE') }).toEqual({
        name,
        disabled: false,
      });
    }
  });
});

describe('the kafka service is configured like the broker of `npm run stack:up`', () => {
  const props = composeBrokerProperties();

  it('runs one KRaft node that is both broker and controller', () => {
    expect(props.get('process.roles')).toBe('broker,controller');
    const nodeId = props.get('node.id');
    expect(props.get('controller.quorum.voters')).toBe(`${nodeId}@kafka:${settings.kafka.controllerPort}`);
    expect(listeners(props.get('listeners')).CONTROLLER).toBe(`:${settings.kafka.controllerPort}`);
    expect(props.get('controller.listener.names')).toBe('CONTROLLER');
  });

  it('does not create topics on first use', () => {
    expect(props.get('auto.create.topics.enable')).toBe('false');
  });

  it('advertises the host listener where clients of the local stack look for it', () => {
    const advertised = listeners(props.get('advertised.listeners'));
    const hostListener = Object.entries(advertised).find(
      ([, address]) => address === `${settings.host}:${settings.kafka.port}`,
    );
    expect(hostListener).toBeDefined();
    // ... and listens on that port inside the container, where the published port leads.
    expect(listeners(props.get('listeners'))[hostListener?.[0] ?? '']).toMatch(new RegExp(`:${settings.kafka.port}$`));
  });

  it('has every broker setting of infra/stack/kafka-nodes.ts that is not about addresses or paths', () => {
    const local = parseProperties(kafkaProperties(settings, '/data'));
    // These name hosts, ports and directories, which differ by design between the two stacks.
    const placeSpecific = new Set([
      'listeners',
      'advertised.listeners',
      'listener.security.protocol.map',
      'controller.quorum.voters',
      'log.dirs',
    ]);
    const expected = [...local].filter(([key]) => !placeSpecific.has(key));
    expect(expected.length).toBeGreaterThan(10);
    for (const [key, value] of expected) {
      expect({ key, value: props.get(key) }).toEqual({ key, value });
    }
  });
});

describe('the registry service', () => {
  const env = environment('registry');

  it('keeps its schemas in the kafka service through kafkasql', () => {
    expect(env.APICURIO_STORAGE_KIND).toBe('kafkasql');
    const bootstrap = env.APICURIO_KAFKASQL_BOOTSTRAP_SERVERS ?? '';
    expect(bootstrap).toMatch(/^kafka:\d+$/);
    // The port must be a listener that other containers can use: advertised as kafka:<port>.
    const advertised = Object.values(listeners(composeBrokerProperties().get('advertised.listeners')));
    expect(advertised).toContain(bootstrap);
  });

  it('applies BACKWARD compatibility globally, as the local stack does', () => {
    expect(env.APICURIO_RULES_GLOBAL_COMPATIBILITY).toBe('BACKWARD');
  });

  it('starts only once kafka is healthy', () => {
    expect(service('registry').depends_on).toEqual(
      expect.objectContaining({ kafka: expect.objectContaining({ condition: 'service_healthy' }) }),
    );
  });
});

describe('the redis service', () => {
  it('runs without persistence, like the local redis-server', () => {
    const command = service('redis').command;
    const args = Array.isArray(command) ? command.map(String) : String(command ?? '').split(/\s+/);
    const after = (flag: string): string | undefined => {
      const i = args.indexOf(flag);
      return i < 0 ? undefined : args[i + 1]?.replace(/^(['"])(.*)\1$/, '$2');
    };
    expect(after('--save')).toBe('');
    expect(after('--appendonly')).toBe('no');
  });
});

/** A service's `- ./host:/container[:ro]` volumes as container path -> absolute host path. */
function mounts(name: string): Map<string, string> {
  const volumes = service(name).volumes;
  const out = new Map<string, string>();
  if (!Array.isArray(volumes)) return out;
  for (const entry of volumes) {
    const [host, container] = String(entry).split(':');
    if (host?.startsWith('.') && container) out.set(container, path.resolve(repoRoot, host));
  }
  return out;
}

/** The host file behind a container path, through the service's bind mounts. */
function hostPath(name: string, containerPath: string): string | undefined {
  for (const [container, host] of mounts(name)) {
    if (containerPath === container || containerPath.startsWith(`${container}/`)) return path.join(host, path.relative(container, containerPath));
  }
  return undefined;
}

function flag(name: string, key: string): string | undefined {
  const command = service(name).command;
  const args = Array.isArray(command) ? command.map(String) : [];
  return args.find((a) => a.startsWith(`--${key}=`))?.slice(key.length + 3);
}

const readYaml = (file: string): Doc => parse(fs.readFileSync(file, 'utf8')) as Doc;

describe('the prometheus and grafana services load infra/prometheus and infra/grafana', () => {
  it('runs Prometheus on the host network at 127.0.0.1:9090, with the repository’s configuration', () => {
    expect(service('prometheus').network_mode).toBe('host');
    expect(flag('prometheus', 'web.listen-address')).toBe('127.0.0.1:9090');
    const configFile = hostPath('prometheus', flag('prometheus', 'config.file') ?? '');
    expect(configFile).toBe(path.join(repoRoot, 'infra', 'prometheus', 'prometheus.yml'));
    const config = readYaml(configFile as string);
    // Rule files and file_sd target files are resolved next to the config, inside the same mount.
    for (const rules of config.rule_files as string[]) expect(fs.existsSync(path.join(path.dirname(configFile as string), rules))).toBe(true);
    const jobs = config.scrape_configs as Array<{ job_name: string; file_sd_configs?: Array<{ files: string[] }> }>;
    expect(jobs.map((j) => j.job_name)).toEqual(expect.arrayContaining(['all', 'gateway', 'command-processor', 'projectors', 'query', 'process-managers', 'replay']));
    for (const job of jobs) {
      for (const file of (job.file_sd_configs ?? []).flatMap((f) => f.files)) {
        expect({ job: job.job_name, file, exists: fs.existsSync(path.join(path.dirname(configFile as string), file)) }).toEqual({ job: job.job_name, file, exists: true });
      }
    }
  });

  it('runs Grafana on the host network at 127.0.0.1, off the gateway’s port, after Prometheus is healthy', () => {
    const grafana = service('grafana');
    expect(grafana.network_mode).toBe('host');
    const env = environment('grafana');
    expect(env.GF_SERVER_HTTP_ADDR).toBe('127.0.0.1');
    expect(Number(env.GF_SERVER_HTTP_PORT)).not.toBe(3000); // PORT's default: the gateway
    expect(JSON.stringify(grafana.healthcheck)).toContain(`127.0.0.1:${env.GF_SERVER_HTTP_PORT}/api/health`);
    expect(grafana.depends_on).toEqual(expect.objectContaining({ prometheus: expect.objectContaining({ condition: 'service_healthy' }) }));
  });

  it('provisions a data source that is the Prometheus service, and dashboards that use it', () => {
    const provisioning = hostPath('grafana', '/etc/grafana/provisioning');
    expect(provisioning).toBe(path.join(repoRoot, 'infra', 'grafana', 'provisioning'));
    const datasources = fs.readdirSync(path.join(provisioning as string, 'datasources')).flatMap((f) => (readYaml(path.join(provisioning as string, 'datasources', f)).datasources as Doc[]) ?? []);
    const prometheus = datasources.find((d) => d.type === 'prometheus');
    expect(prometheus?.url).toBe(`http://${flag('prometheus', 'web.listen-address')}`);
    const scrapeInterval = ((readYaml(path.join(repoRoot, 'infra', 'prometheus', 'prometheus.yml')).global as Doc).scrape_interval as string) ?? '';
    expect((prometheus?.jsonData as Doc | undefined)?.timeInterval).toBe(scrapeInterval);

    const providers = fs.readdirSync(path.join(provisioning as string, 'dashboards')).flatMap((f) => (readYaml(path.join(provisioning as string, 'dashboards', f)).providers as Doc[]) ?? []);
    expect(providers.length).toBeGreaterThan(0);
    for (const provider of providers) {
      const dir = hostPath('grafana', String((provider.options as Doc).path));
      expect(dir).toBe(path.join(repoRoot, 'infra', 'grafana', 'dashboards'));
      const files = fs.readdirSync(dir as string).filter((f) => f.endsWith('.json'));
      expect(files).toEqual(expect.arrayContaining(['overview.json', 'consumers.json', 'replays.json']));
      const uids = new Set<string>();
      for (const file of files) {
        const dashboard = JSON.parse(fs.readFileSync(path.join(dir as string, file), 'utf8')) as { uid: string; panels: Array<{ type: string; datasource?: { uid?: string }; targets?: Array<{ datasource?: { uid?: string } }> }> };
        expect(uids.has(dashboard.uid)).toBe(false);
        uids.add(dashboard.uid);
        for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
          for (const ds of [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)]) expect({ file, uid: ds?.uid }).toEqual({ file, uid: prometheus?.uid });
        }
      }
    }
  });
});
