// PouchDB 9 as the device in bench/photos.py: phase "load" creates the
// visits (each with a photo) in an on-disk PouchDB at <dir> and pushes them
// to <url>; phase "edit" edits every visit's text and pushes again. Prints
// {"docs_written", "seconds"} of the push as JSON. Run from the project root.
//
// usage: node bench/pouchdb_photos.js <load|edit> <dir> <target_url> <visits> <photo_bytes>
'use strict';
const crypto = require('crypto');
const path = require('path');
const PouchDB = require('pouchdb');

async function main() {
  const [phase, dir, url, visits, photoBytes] = process.argv.slice(2);
  const local = new PouchDB(path.join(dir, 'device'));
  const remote = new PouchDB(url);
  try {
    if (phase === 'load') {
      const docs = [];
      for (let i = 0; i < Number(visits); i++) {
        docs.push({
          _id: `visit-${String(i).padStart(5, '0')}`, type: 'verification_visit', note: 'first',
          _attachments: { 'photo.jpg': {
            content_type: 'image/jpeg',
            data: crypto.randomBytes(Number(photoBytes)).toString('base64'),
          } },
        });
      }
      await local.bulkDocs(docs);
    } else {
      const all = await local.allDocs({ include_docs: true });
      await local.bulkDocs(all.rows.map((row) => ({ ...row.doc, note: 'edited' })));
    }
    const started = process.hrtime.bigint();
    const result = await PouchDB.replicate(local, remote);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(JSON.stringify({ docs_written: result.docs_written, seconds }));
  } finally {
    await local.close();
    await remote.close();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
