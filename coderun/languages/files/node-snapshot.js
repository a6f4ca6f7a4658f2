// Node's start from a snapshot. Debian's node is built without its own start-up snapshot, so each process
// bootstraps node's internals from source: about 80 ms of CPU here, most of what a short program costs. The
// image builds this once (`node --snapshot-blob node.blob --build-snapshot node-snapshot.js`, node >= 18.8);
// `node --snapshot-blob node.blob FILE` then starts from the bootstrapped state in about half the time and
// runs FILE as `node FILE` does: the CommonJS main module, its own require paths (recomputed from this
// process's environment, not the build's), argv, exit codes, uncaught errors and exit handlers as usual.
// Nothing of a program is in the snapshot: it is built before any program exists.
"use strict";
const v8 = require("v8");

v8.startupSnapshot.setDeserializeMainFunction(() => {
  // node 18 warns that 'module' is "not yet supported in user snapshots": true of building one, harmless
  // here (it is loaded after the start), and a warning on stderr would fail HumanEval-X's any-output rule.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  let Module;
  try {
    Module = require("module");
  } finally {
    process.emitWarning = emitWarning;
  }
  process.argv[1] = require("path").resolve(process.argv[1]);
  Module._initPaths();
  Module.runMain();
});
