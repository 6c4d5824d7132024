// PouchDB 9 pulls one database into a fresh on-disk (leveldb) PouchDB and
// prints {"docs_written", "seconds", "cpu_us"} as JSON. Used by bench/replication.py as
// the reference client; run from the project root so node_modules resolve.
//
// usage: node bench/pouchdb_pull.js <source_url> [batch_size]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const PouchDB = require('pouchdb');

async function main() {
  const source = process.argv[2];
  const batchSize = Number(process.argv[3] || 100); // PouchDB's default
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pouchdb-pull-'));
  const local = new PouchDB(path.join(dir, 'db'));
  const remote = new PouchDB(source);
  try {
    const started = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const result = await PouchDB.replicate(remote, local, { batch_size: batchSize });
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const info = await local.info();
    console.log(JSON.stringify({
      docs_written: result.docs_written, doc_count: info.doc_count, seconds,
      cpu_us: cpu.user + cpu.system, // this client's CPU during the pull
    }));
  } finally {
    await local.destroy();
    await remote.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
