/**
 * The benchmark's baseline: a bare express endpoint that does one kafkajs produce
 * per request, through the same ProduceBatcher (same linger, acks=all) the
 * command gateway uses. No validation, no decision, no reply to wait for.
 */
import express from 'express';
import { createKafka } from '../infra/kafka/client';
import { ProduceBatcher } from '../infra/kafka/batcher';
import { rootLogger } from '../infra/logging';
import { partitionFor } from '../schemas/partitioning';

export const BASELINE_TOPIC = 'bench.baseline';
const PARTITIONS = Number(process.env.BASELINE_PARTITIONS ?? 6);

async function main(): Promise<void> {
  const kafka = createKafka('bench-baseline', rootLogger);
  const producer = kafka.producer({ retry: { retries: 3 } });
  await producer.connect();
  const batcher = new ProduceBatcher(producer, 2);
  const app = express();
  app.use(express.json({ limit: '64kb' }));
  app.get('/readyz', (_req, res) => void res.json({ status: 'ok' }));
  app.post('/produce/:key', async (req, res) => {
    const key = req.params.key;
    const written = await batcher.send(BASELINE_TOPIC, { key, value: Buffer.from(JSON.stringify(req.body)), partition: partitionFor(key, PARTITIONS) });
    res.status(201).json({ partition: written?.partition, offset: written?.baseOffset });
  });
  const server = app.listen(Number(process.env.PORT ?? 3099), '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    void producer.disconnect().then(() => process.exit(0));
  });
}

if (require.main === module) void main();
