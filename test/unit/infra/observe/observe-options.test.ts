import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { JOBS, ObserveUsageError, parseObserveOptions } from '../../../../infra/observe/options';
import { PROMETHEUS_DIR } from '../../../../infra/observe/prometheus';

describe('npm run observe options', () => {
  it('scrape npm start on its HEALTH_PORT and the replay tool by default, every 5 s', () => {
    expect(parseObserveOptions([], { HEALTH_PORT: '39464' })).toEqual({
      port: undefined,
      targets: { all: ['127.0.0.1:39464'], replay: ['127.0.0.1:9470'] },
      scrapeIntervalS: 5,
      check: false,
      checkWaitMs: 180_000,
    });
  });

  it('take targets per job, a port, an interval (0 keeps prometheus.yml) and --check', () => {
    const options = parseObserveOptions(['--target', 'gateway=10.0.0.7:9465', '--target', 'gateway=10.0.0.8:9465', '--port', '39090', '--scrape-interval', '0', '--check', '--check-wait', '60'], { OBSERVE_PORT: '1' });
    expect(options).toEqual({ port: 39090, targets: { gateway: ['10.0.0.7:9465', '10.0.0.8:9465'] }, scrapeIntervalS: undefined, check: true, checkWaitMs: 60_000 });
  });

  it('refuse a job prometheus.yml does not have, a target without a port and a bad port', () => {
    expect(() => parseObserveOptions(['--target', 'web=127.0.0.1:1'], {})).toThrow(/not one of all, gateway/);
    expect(() => parseObserveOptions(['--target', 'all=127.0.0.1'], {})).toThrow(ObserveUsageError);
    expect(() => parseObserveOptions(['--port', '70000'], {})).toThrow(/from 1 to 65535/);
  });

  it("know exactly prometheus.yml's jobs", () => {
    const config = parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ job_name: string }> };
    expect([...JOBS].sort()).toEqual(config.scrape_configs.map((c) => c.job_name).sort());
  });
});
