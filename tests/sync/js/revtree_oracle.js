// Oracle for tests/sync/test_revtree_pouchdb.py: replays the same inserts into
// PouchDB's own revision tree (pouchdb-merge) and reports what PouchDB decides.
// stdin: [{depth, inserts: [{path: [rev newest first...], deleted}]}]
// stdout: [{winner, leaves, conflicts, revs}] (lists sorted)
const merge = require('pouchdb-merge');

function pathToTree(path, deleted) {
  // PouchDB paths run from the oldest rev down: {pos, ids: [hash, opts, [child]]}.
  const oldestFirst = path.slice().reverse();
  let node = null;
  for (let i = oldestFirst.length - 1; i >= 0; i--) {
    const hash = oldestFirst[i].split('-').slice(1).join('-');
    const opts = i === oldestFirst.length - 1
      ? {status: 'available', deleted: deleted || undefined}
      : {status: 'missing'};
    node = [hash, opts, node ? [node] : []];
  }
  return {pos: parseInt(oldestFirst[0].split('-')[0], 10), ids: node};
}

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(({depth, inserts}) => {
    let tree = [];
    for (const {path, deleted} of inserts) {
      tree = merge.merge(tree, pathToTree(path, deleted), depth).tree;
    }
    const metadata = {rev_tree: tree};
    const revs = [];
    merge.traverseRevTree(tree, (isLeaf, pos, id) => { revs.push(pos + '-' + id); });
    return {
      winner: merge.winningRev(metadata),
      leaves: merge.collectLeaves(tree).map((l) => l.rev).sort(),
      conflicts: merge.collectConflicts(metadata).sort(),
      revs: revs.sort(),
    };
  });
  process.stdout.write(JSON.stringify(out));
});
