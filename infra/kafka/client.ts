import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { config } from '../config';
import { rootLogger, type Logger } from '../logging';
import { cacheCoordinators } from './coordinator-cache';
import { kafkajsLevel } from './log-levels';

// kafkajs warns about its v2 partitioner change on every producer; we choose partitions explicitly.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** Routes kafkajs's own logs into pino, keeping its structured fields. */
export function pinoLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry): void => {
      const { message, ...rest } = log;
      // Transient broker answers kafkajs retries are debug, not errors (log-levels.ts).
      logger[kafkajsLevel(level, message, rest.error)]({ kafkajs: rest }, message);
    };
}

export function createKafka(clientId: string, logger: Logger = rootLogger): Kafka {
  const level = process.env.KAFKAJS_LOG_LEVEL === 'debug' ? logLevel.DEBUG : logLevel.WARN;
  const kafka = new Kafka({
    clientId: `${config().kafka.clientId}.${clientId}`,
    brokers: [...config().kafka.brokers],
    logLevel: level,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' })),
    connectionTimeout: 3000,
    requestTimeout: 30000,
  });
  // One FindCoordinator per coordinator instead of four per transaction (coordinator-cache.ts).
  return cacheCoordinators(kafka);
}
