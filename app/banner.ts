// What `npm start` tells a person once every role of the process is ready:
// where to look, what to run next, how to stop. Printed as text at a terminal
// (LOG_FORMAT=pretty) and as one structured log line otherwise (main.ts).
import type { AppConfig } from '../infra/config';

export interface BannerInput {
  /** The roles this process runs (Running.name). */
  readonly roles: readonly string[];
  readonly gatewayPort?: number;
  readonly queryPort?: number;
  readonly webPort?: number;
  readonly opsPort: number;
  readonly stack: Pick<AppConfig, 'kafka' | 'registry' | 'redis'>;
  readonly host?: string;
}

export interface BannerUrls {
  readonly gateway?: string;
  readonly query?: string;
  readonly web?: string;
  readonly metrics: string;
  readonly health: string;
  readonly kafka: string;
  readonly registry: string;
  readonly redis: string;
}

export function bannerUrls(input: BannerInput): BannerUrls {
  const host = input.host ?? '127.0.0.1';
  const ops = `http://${host}:${input.opsPort}`;
  return {
    ...(input.roles.includes('gateway') && input.gatewayPort !== undefined ? { gateway: `http://${host}:${input.gatewayPort}` } : {}),
    ...(input.roles.includes('query') && input.queryPort !== undefined ? { query: `http://${host}:${input.queryPort}` } : {}),
    ...(input.roles.includes('web') && input.webPort !== undefined ? { web: `http://${host}:${input.webPort}` } : {}),
    metrics: `${ops}/metrics`,
    health: `${ops}/readyz`,
    kafka: input.stack.kafka.brokers.join(','),
    registry: input.stack.registry.url,
    redis: input.stack.redis.url,
  };
}

/** The banner as lines of text (no colour codes: the terminal's own colours apply). */
export function startBanner(input: BannerInput): string[] {
  const urls = bannerUrls(input);
  const row = (label: string, value: string): string => `  ${label.padEnd(16)} ${value}`;
  const lines = ['', `The restaurant is running (${input.roles.length} role${input.roles.length === 1 ? '' : 's'}: ${input.roles.join(', ')})`, ''];
  if (urls.gateway !== undefined) lines.push(row('commands', `${urls.gateway}   (HTTP gateway, docs/gateway.md)`));
  if (urls.query !== undefined) lines.push(row('queries', `${urls.query}   (read models, docs/read-side.md)`));
  if (urls.web !== undefined) lines.push(row('web UI', `${urls.web}   (order, cook and deliver in the browser, docs/web-ui.md)`));
  lines.push(row('metrics', urls.metrics), row('ready', urls.health), row('kafka', urls.kafka), row('registry', urls.registry), row('redis', urls.redis), '');
  if (urls.gateway !== undefined || urls.query !== undefined) {
    lines.push(
      '  Every request carries a bearer token (docs/security.md):',
      row('a token', 'TOKEN=$(npm run -s token -- --role manager)   (or customer --sub <id>, kitchen, courier, admin)'),
      row('then', 'curl -H "Authorization: Bearer $TOKEN" ...'),
      '',
    );
  }
  lines.push(
    '  Next, in another terminal:',
    row('npm run demo', 'a restaurant that runs by itself: menu, customers, a day of orders'),
    row('npm run observe', 'Prometheus scraping this process, with the dashboards\' queries'),
    '',
    '  Stop with Ctrl-C (the stack keeps running; `npm run stack:down` stops it).',
    '',
  );
  return lines;
}
