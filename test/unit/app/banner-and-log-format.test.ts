import { bannerUrls, startBanner } from '../../../app/banner';
import { logFormat } from '../../../infra/logging';

const stack = { kafka: { brokers: ['127.0.0.1:9092'], clientId: 'restaurant' }, registry: { url: 'http://127.0.0.1:8081/apis/ccompat/v7' }, redis: { url: 'redis://127.0.0.1:6379' } };

describe('the start banner', () => {
  it('lists the URLs of the roles this process runs, the stack, what to run next and how to stop', () => {
    const text = startBanner({ roles: ['command-processor', 'gateway', 'query'], gatewayPort: 3000, queryPort: 3001, opsPort: 9464, stack }).join('\n');
    for (const expected of ['http://127.0.0.1:3000', 'http://127.0.0.1:3001', 'http://127.0.0.1:9464/metrics', '127.0.0.1:9092', 'http://127.0.0.1:8081/apis/ccompat/v7', 'redis://127.0.0.1:6379', 'npm run -s token -- --role manager', 'npm run demo', 'npm run observe', 'Ctrl-C']) {
      expect(text).toContain(expected);
    }
  });

  it('leaves out the gateway and query URLs of a process that does not run them', () => {
    const urls = bannerUrls({ roles: ['projector:menu'], gatewayPort: 3000, queryPort: 3001, opsPort: 9470, stack });
    expect(urls.gateway).toBeUndefined();
    expect(urls.query).toBeUndefined();
    expect(urls.metrics).toBe('http://127.0.0.1:9470/metrics');
    expect(startBanner({ roles: ['projector:menu'], gatewayPort: 3000, queryPort: 3001, opsPort: 9470, stack }).join('\n')).not.toContain('npm run -s token');
  });
});

describe('LOG_FORMAT', () => {
  it('is pretty at a terminal and JSON otherwise, unless set', () => {
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({}, false)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => logFormat({ LOG_FORMAT: 'xml' }, true)).toThrow(/LOG_FORMAT="xml"/);
  });
});
