// The one-off migration, part three: e-mail reservations made before hashing
// (docs/privacy.md, "Events written before encryption"). Such a reservation's
// aggregate id is the normalised address itself, so the address sits in the
// keys and metadata of its events and in the key and `email` field of its
// snapshot. Each one is re-keyed to `emailReservationId(secret, address)`, the
// id the gateway uses now: its events are written again under the new id (same
// versions, ids and causality; on the new id's partition), then its snapshot
// (the state the processor restores from; remembered replies re-pointed at the
// new id), and only then is every old record tombstoned, so an interrupted run
// is completed by running again. The holder learns its reservation id beside
// its keys (`recordHolder`), so a later forget releases it; a reservation held
// by a customer already forgotten is released on the way (one EmailReleased).
import type { Kafka, Message } from 'kafkajs';
import type { CommandReply, EmailReservationSnapshot, EventMetadata } from '../../schemas/generated/types';
import { eventKey, partitionFor } from '../../schemas/partitioning';
import { CHECKPOINT_KEY_PREFIX } from '../../infra/stateful/position-store';
import type { AvroCodec } from '../../infra/kafka/codec';
import { emailReservationId, EMAIL_KEY_PREFIX } from '../../infra/privacy/crypto';
import { latestRecords } from './migration-snapshots';

export interface ReservationTopics {
  readonly events: string;
  readonly snapshots: string;
  /** Partitions of the reservation command topic: an aggregate's events and snapshot live on partitionFor(id, this). */
  readonly partitions: number;
}

export interface ReservationReport {
  /** Reservations found under a plain address. */
  readonly found: number;
  readonly rekeyed: number;
  /** Plain reservations whose hashed id already had a reservation (made after hashing): that one is kept, the old one only removed. */
  readonly superseded: number;
  /** Re-keyed reservations released on the way because their holder was forgotten. */
  readonly released: number;
}

export interface ReservationHooks {
  /** Records a re-keyed reservation beside its holder's keys; answers whether the holder was forgotten. */
  recordHolder(customerId: string, reservationId: string): Promise<'recorded' | 'forgotten'>;
  readonly clock?: () => number;
}

interface OldEvent {
  readonly key: string;
  readonly partition: number;
  readonly fullName: string;
  readonly value: { readonly metadata: EventMetadata } & Record<string, unknown>;
}

/** A remembered reply of the old aggregate as it reads for the new one: its id and its events' positions. */
function repoint(reply: CommandReply, oldId: string, newId: string, partition: number, offsets: ReadonlyMap<number, number>): CommandReply {
  if (reply.aggregateId !== oldId) return reply;
  const events = reply.events.map((e) => (e.aggregateId === oldId ? { ...e, aggregateId: newId, partition, offset: offsets.get(e.version) ?? e.offset } : e));
  return { ...reply, aggregateId: newId, events };
}

/** A plain reservation's id: what is neither a keyed hash nor a checkpoint. */
const isPlainReservation = (id: string): boolean => !id.startsWith(EMAIL_KEY_PREFIX) && !id.startsWith(CHECKPOINT_KEY_PREFIX);

export async function migrateEmailReservations(kafka: Kafka, codec: AvroCodec, topics: ReservationTopics, secret: Buffer, hooks: ReservationHooks): Promise<ReservationReport> {
  const clock = hooks.clock ?? Date.now;
  const events = await latestRecords(kafka, topics.events);
  const snapshots = await latestRecords(kafka, topics.snapshots);
  const history = new Map<string, OldEvent[]>();
  for (const [key, { partition, message }] of events.latest) {
    const decoded = await codec.decode(message.value);
    const value = decoded.value as OldEvent['value'];
    const id = value.metadata.aggregateId;
    if (!isPlainReservation(id)) continue;
    history.set(id, [...(history.get(id) ?? []), { key, partition, fullName: decoded.fullName, value }]);
  }
  const plainSnapshots = [...snapshots.latest.keys()].filter(isPlainReservation);
  const ids = [...new Set([...history.keys(), ...plainSnapshots])];
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const report = { found: ids.length, rekeyed: 0, superseded: 0, released: 0 };
  try {
    for (const oldId of ids) {
      const newId = emailReservationId(secret, oldId);
      const partition = partitionFor(newId, topics.partitions);
      const old = (history.get(oldId) ?? []).sort((a, b) => a.value.metadata.version - b.value.metadata.version);
      const oldSnapshot = snapshots.latest.get(oldId);
      if (snapshots.latest.has(newId)) {
        report.superseded += 1;
      } else if (oldSnapshot !== undefined) {
        const decoded = await codec.decode(oldSnapshot.message.value);
        const snapshot = decoded.value as EmailReservationSnapshot;
        const copies: Message[] = [];
        for (const e of old) {
          const metadata = { ...e.value.metadata, aggregateId: newId };
          copies.push({ key: eventKey(newId, metadata.version), value: await codec.encode(topics.events, e.fullName, { ...e.value, metadata }), partition, headers: { ...events.latest.get(e.key)?.message.headers } });
        }
        // Where the copies landed, for the remembered replies' event positions.
        const offsets = new Map<number, number>();
        if (copies.length > 0) {
          const [written] = await producer.send({ topic: topics.events, acks: -1, messages: copies });
          old.forEach((e, i) => offsets.set(e.value.metadata.version, Number(written?.baseOffset ?? -1) + i));
        }
        let state: EmailReservationSnapshot = {
          ...snapshot,
          email: newId,
          recentCommands: snapshot.recentCommands.map((r) => repoint(r, oldId, newId, partition, offsets)),
        };
        const holder = snapshot.holderCustomerId;
        if (holder !== null && (await hooks.recordHolder(holder, newId)) === 'forgotten') {
          const last = old.at(-1);
          const version = snapshot.version + 1;
          const causation = `privacy-migration-release-${newId}`;
          const metadata: EventMetadata = { eventId: `${causation}/${version}`, aggregateId: newId, version, occurredAt: clock(), commandId: causation, correlationId: last?.value.metadata.correlationId ?? causation, causationId: causation, actor: null };
          const fullName = last === undefined ? 'restaurant.email.EmailReleased' : last.fullName.replace(/[^.]+$/, 'EmailReleased');
          await producer.send({ topic: topics.events, acks: -1, messages: [{ key: eventKey(newId, version), value: await codec.encode(topics.events, fullName, { metadata, customerId: holder }), partition, headers: { 'event-type': 'EmailReleased' } }] });
          state = { ...state, version, holderCustomerId: null };
          report.released += 1;
        }
        await producer.send({ topic: topics.snapshots, acks: -1, messages: [{ key: newId, value: await codec.encode(topics.snapshots, decoded.fullName, state), partition, headers: { ...oldSnapshot.message.headers } }] });
        report.rekeyed += 1;
      }
      // The old records go last: a run interrupted before this point writes the same new records again.
      const tombstones = old.map((e) => ({ topic: topics.events, messages: [{ key: e.key, value: null, partition: e.partition }] }));
      if (oldSnapshot !== undefined) tombstones.push({ topic: topics.snapshots, messages: [{ key: oldId, value: null, partition: oldSnapshot.partition }] });
      if (tombstones.length > 0) await producer.sendBatch({ acks: -1, topicMessages: tombstones });
    }
    return report;
  } finally {
    await producer.disconnect();
  }
}
