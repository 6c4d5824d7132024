// PouchDB 9's side of bench/link.py: one scenario against pouchdb-server through
// the shaping proxy. Sets up over the (still fast) link, prints "ready", waits for a
// <go_file> to exist (the bench shapes the link meanwhile), runs the timed part and
// prints {"seconds", "docs_written"} as JSON.
//
// usage: node bench/pouchdb_link.js <proxied_db_url> <direct_db_url> <scenario>
//        <keep_alive 0|1> <docs.json|-> <offset> <go_file>
//   scenario: pull | push | noop | conflict
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const PouchDB = require('pouchdb');

function remoteDb(url, keepAlive) {
  if (!keepAlive) return new PouchDB(url);
  // pouchdb-server drops a connection idle for 5 s; PouchDB does not retry a
  // request sent on one just dropped, so the agent lets idle ones go at 4 s.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6, timeout: 4000 });
  return new PouchDB(url, {
    fetch: (u, opts) => PouchDB.fetch(u, Object.assign({}, opts, { agent })),
  });
}

// The bench creates <docs dir>/go once the link is shaped (a file, not stdin:
// simpler to get right across two event loops).
async function waitForGo(file) {
  while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 20));
}

async function editTwenty(db, offset, text) {
  const all = await db.allDocs({ include_docs: true });
  const records = all.rows.filter((r) => !r.id.startsWith('journal-') && !r.id.startsWith('_'));
  const chosen = records.slice(offset, offset + 20).map((r) => r.doc);
  for (const doc of chosen) doc.description = text;
  await db.bulkDocs(chosen);
}

async function main() {
  const [proxied, direct, scenario, keepAliveArg, docsFile, offsetArg, goFile] =
    process.argv.slice(2);
  const keepAlive = keepAliveArg === '1';
  const offset = Number(offsetArg || 0);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pouchdb-link-'));
  const local = new PouchDB(path.join(dir, 'db'));
  const remote = remoteDb(proxied, keepAlive);
  try {
    // In step both ways (and checkpointed) before the timed part, as a device would
    // be: a pull, then a sync (a sync alone left the push side's checkpoint behind).
    if (scenario !== 'pull') {
      await PouchDB.replicate(remote, local);
      await PouchDB.sync(local, remote);
    }
    if (scenario === 'push') {
      // Ids of their own per variant: the other variant's push already put these there.
      const docs = JSON.parse(fs.readFileSync(docsFile, 'utf8'))
        .map((d) => Object.assign({}, d, { _id: `${d._id}-${keepAlive ? 'ka' : 'nk'}` }));
      await local.bulkDocs(docs);
    }
    if (scenario === 'conflict') {
      await editTwenty(local, offset, 'Edited on the tablet.');
      const server = new PouchDB(direct);
      await editTwenty(server, offset, 'Edited at the station desk.');
    }
    console.log('ready');
    await waitForGo(goFile);
    const started = process.hrtime.bigint();
    let result;
    if (scenario === 'pull') result = await PouchDB.replicate(remote, local);
    else if (scenario === 'push') result = await PouchDB.replicate(local, remote);
    else result = await PouchDB.sync(local, remote);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const written = result.docs_written !== undefined
      ? result.docs_written : result.push.docs_written + result.pull.docs_written;
    console.log(JSON.stringify({ seconds, docs_written: written }));
  } finally {
    await local.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
