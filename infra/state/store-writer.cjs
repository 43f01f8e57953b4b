// The store writes of a restore, on a worker thread (docs/state-stores.md
// "Store writes in a worker thread"): the thread that reads the changelog
// (kafkajs's fetch and decode) hands each batch here and goes on fetching while
// this thread writes it. Plain CommonJS so that it runs as is under tsx, under
// jest and from dist/ (the build copies it); started by store-writer.ts, which
// passes the statements (the store's own, from state-store.ts) and opens the
// stores to write by their files. The thread ends when its port is closed.
//
// Each batch is one SQLite transaction that also records the offset after it,
// applied in the order received: the store never reflects anything past what
// it has durably applied, and once a batch fails no later batch is applied
// (they would leave a hole), so a failed or killed restore leaves a prefix the
// next restore continues from.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { Buffer } = require('node:buffer');
const Database = require('better-sqlite3');

/** An error as plain data (structured clone drops an Error's own properties such as SQLite's `code`). */
function described(error) {
  const e = error instanceof Error ? error : new Error(String(error));
  return { message: e.message, code: typeof e.code === 'string' ? e.code : undefined, stack: e.stack };
}

function open(file) {
  const db = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    // The same pragmas as the store's own connection (state-store.ts openDatabase).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

// One thread may write several stores (each restore of a process's partitions
// at once): messages name their store.
const stores = new Map();

function received(message) {
  const { id } = message;
  if (message.kind === 'open') {
    try {
      const db = open(message.file);
      const { sql } = workerData;
      const statements = { put: db.prepare(sql.put), remove: db.prepare(sql.remove), setOffset: db.prepare(sql.setOffset) };
      stores.set(id, { db, failed: false, apply: db.transaction((batch) => applyBatch(statements, batch)) });
      parentPort.postMessage({ kind: 'opened', id });
    } catch (error) {
      parentPort.postMessage({ kind: 'failed', id, error: described(error) });
    }
    return;
  }
  const store = stores.get(id);
  if (store === undefined) return;
  if (message.kind === 'close') {
    stores.delete(id);
    try {
      store.db.close();
    } catch {
      // Closing releases the file whatever it answers; a failed batch was reported already.
    }
    parentPort.postMessage({ kind: 'closed', id });
    return;
  }
  if (store.failed) return; // the batch that failed was reported; nothing past it is applied
  const started = process.hrtime.bigint();
  try {
    store.apply(message);
    parentPort.postMessage({ kind: 'applied', id, offset: message.offset, writeNs: Number(process.hrtime.bigint() - started) });
  } catch (error) {
    store.failed = true;
    parentPort.postMessage({ kind: 'failed', id, offset: message.offset, error: described(error) });
  }
}

function applyBatch(statements, batch) {
  const { keys, lengths, bytes, foldVersions, labels, dues, traces } = batch;
  let at = bytes.byteOffset;
  for (let i = 0; i < keys.length; i += 1) {
    const length = lengths[i];
    if (length < 0) {
      statements.remove.run(keys[i]);
      continue;
    }
    statements.put.run(keys[i], Buffer.from(bytes.buffer, at, length), foldVersions[i], labels[i], dues[i], traces[i]);
    at += length;
  }
  statements.setOffset.run(batch.offset);
}

parentPort.on('message', received);
