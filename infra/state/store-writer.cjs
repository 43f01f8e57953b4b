// The store writes of a restore, on a worker thread (docs/state-stores.md
// "Store writes in a worker thread"): the thread that reads the changelog
// (kafkajs's fetch and decode) hands each batch here and goes on fetching while
// this thread writes it. Plain CommonJS so that it runs as is under tsx, under
// jest and from dist/ (the build copies it); started by store-writer.ts, which
// passes the file and the statements (the store's own, from state-store.ts).
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

let db;
try {
  db = open(workerData.file);
} catch (error) {
  parentPort.postMessage({ kind: 'failed', error: described(error) });
}

if (db !== undefined) {
  const { sql } = workerData;
  const put = db.prepare(sql.put);
  const remove = db.prepare(sql.remove);
  const setOffset = db.prepare(sql.setOffset);
  const applyBatch = db.transaction((batch) => {
    const { keys, lengths, bytes, foldVersions, labels, dues, traces } = batch;
    let at = bytes.byteOffset;
    for (let i = 0; i < keys.length; i += 1) {
      const length = lengths[i];
      if (length < 0) {
        remove.run(keys[i]);
        continue;
      }
      put.run(keys[i], Buffer.from(bytes.buffer, at, length), foldVersions[i], labels[i], dues[i], traces[i]);
      at += length;
    }
    setOffset.run(batch.offset);
  });
  let failed = false;
  parentPort.postMessage({ kind: 'ready' });
  parentPort.on('message', (message) => {
    if (message.kind === 'close') {
      db.close();
      parentPort.close();
      return;
    }
    if (failed) return; // the batch that failed was reported; nothing past it is applied
    const started = process.hrtime.bigint();
    try {
      applyBatch(message);
      parentPort.postMessage({ kind: 'applied', offset: message.offset, writeNs: Number(process.hrtime.bigint() - started) });
    } catch (error) {
      failed = true;
      parentPort.postMessage({ kind: 'failed', offset: message.offset, error: described(error) });
    }
  });
}
