import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, missingKafkaCredentials, readConfig } from '../../../../infra/config';
import { kafkaSecurity } from '../../../../infra/kafka/client';

describe('Kafka client security from the environment', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-security-'));
  const file = (name: string, content: string): string => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, content);
    return at;
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is plaintext without authentication by default', () => {
    const { kafka } = readConfig({});
    expect(kafka.sasl).toBeUndefined();
    expect(kafka.ssl).toBeUndefined();
    expect(kafkaSecurity(kafka)).toEqual({});
  });

  it('takes SASL/SCRAM credentials, the mechanism case-insensitively', () => {
    const { kafka } = readConfig({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'gateway', KAFKA_SASL_PASSWORD: 's3cret' });
    expect(kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'gateway', password: 's3cret' });
    expect(kafkaSecurity(kafka)).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'gateway', password: 's3cret' } });
  });

  it('reads the password from a file, without its trailing newline', () => {
    const { kafka } = readConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'query', KAFKA_SASL_PASSWORD_FILE: file('pw', 'from-file\n') });
    expect(kafka.sasl).toEqual({ mechanism: 'plain', username: 'query', password: 'from-file' });
  });

  it.each([
    [{ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, /KAFKA_SASL_MECHANISM="gssapi" is not one of scram-sha-512, scram-sha-256, plain/],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_PASSWORD: 'p' }, /needs KAFKA_SASL_USERNAME/],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' }, /needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE/],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_SASL_PASSWORD_FILE: '/x' }, /not both/],
    [{ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, /KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD set without KAFKA_SASL_MECHANISM/],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw' }, /KAFKA_SASL_PASSWORD_FILE="\/nonexistent\/pw" cannot be read/],
    [{ KAFKA_SSL: 'yes' }, /KAFKA_SSL="yes" is not true or false/],
    [{ KAFKA_SSL_CA_FILE: '/ca.pem' }, /KAFKA_SSL_CA_FILE set but KAFKA_SSL is not true/],
  ])('refuses %j with a clear ConfigError', (env, message) => {
    expect(() => readConfig(env)).toThrow(ConfigError);
    expect(() => readConfig(env)).toThrow(message);
  });

  it('an empty password file is refused', () => {
    expect(() => readConfig({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') })).toThrow(/empty password/);
  });

  it('KAFKA_SSL=true alone trusts the system roots', () => {
    const { kafka } = readConfig({ KAFKA_SSL: 'true' });
    expect(kafka.ssl).toEqual({});
    expect(kafkaSecurity(kafka)).toEqual({ ssl: true });
  });

  it('reads the CA and a client certificate and key as PEM', () => {
    const env = { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('ca.pem', 'CA'), KAFKA_SSL_CERT_FILE: file('cert.pem', 'CERT'), KAFKA_SSL_KEY_FILE: file('key.pem', 'KEY') };
    expect(kafkaSecurity(readConfig(env).kafka)).toEqual({ ssl: { ca: 'CA', cert: 'CERT', key: 'KEY' } });
  });

  it('a client certificate without its key is refused', () => {
    expect(() => readConfig({ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: file('c.pem', 'CERT') })).toThrow(/both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE/);
  });

  it('SASL over TLS together', () => {
    const security = kafkaSecurity(readConfig({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }).kafka);
    expect(security).toEqual({ ssl: true, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } });
  });

  it('a role on the secured local stack without credentials is told how to get them', () => {
    expect(missingKafkaCredentials({})).toBeUndefined();
    expect(missingKafkaCredentials({ STACK_KAFKA_SECURITY: 'sasl' })).toMatch(/STACK_KAFKA_SECURITY=sasl.*access:env/);
    expect(missingKafkaCredentials({ STACK_KAFKA_SECURITY: 'sasl', KAFKA_SASL_MECHANISM: 'scram-sha-512' })).toBeUndefined();
    expect(missingKafkaCredentials({ STACK_KAFKA_SECURITY: 'sasl', KAFKA_BROKERS: 'elsewhere:9092' })).toBeUndefined();
  });
});
