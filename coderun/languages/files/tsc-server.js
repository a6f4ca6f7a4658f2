// coderun's warm tsc (sandbox/servers.py says why and what keeps it apart from the programs it compiles).
// Requests on stdin, replies on stdout, in servers.py's frames. Arguments: tsc's command-line options, read
// by tsc's own parser, so a compile here means what `tsc OPTIONS FILE` means. The TypeScript compiler API
// executes nothing of the program. Kept between requests: the parsed lib files (lib.*.d.ts), as tsserver
// keeps them between versions of a project; the program's own file is parsed afresh every time.
//
// --transpile-only (this server's own flag, first): each file's JavaScript without the type check, by
// ts.transpileModule, for a suite whose verdict type errors never decide (mxeval's TypeScript: exit status 2,
// errors with output emitted, counts as compiled). tsc emits that same JavaScript whatever the type errors,
// so the run is the same; the exit status is 2 with syntax errors, else 0 (a type error is not looked for).
// A third of the compile's CPU: the check is what needs the lib files.
"use strict";
const ts = require("typescript");

const ROOT = "/coderun-src/";
const libs = new Map();

// Whether any diagnostic is an error, and all of them as tsc prints them.
function report(diagnostics) {
  return { failed: diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error),
           text: ts.formatDiagnostics(diagnostics, {
             getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" }) };
}

function compile(files, args) {
  const names = Object.keys(files).filter((n) => n.endsWith(".ts")).map((n) => ROOT + n);
  const options = ts.parseCommandLine([...args, ...names]).options;
  const host = ts.createCompilerHost(options);
  const own = (f) => f.startsWith(ROOT) && Object.prototype.hasOwnProperty.call(files, f.slice(ROOT.length));
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (f, version, onError) => {
    if (own(f)) return ts.createSourceFile(f, files[f.slice(ROOT.length)], version);
    if (f.startsWith(ROOT)) return undefined; // nothing else of the scratch dir exists here
    if (!libs.has(f)) libs.set(f, read(f, version, onError));
    return libs.get(f);
  };
  host.fileExists = (f) => own(f) || (!f.startsWith(ROOT) && ts.sys.fileExists(f));
  host.readFile = (f) => (own(f) ? files[f.slice(ROOT.length)] : f.startsWith(ROOT) ? undefined : ts.sys.readFile(f));
  host.getCurrentDirectory = () => ROOT;
  const outputs = {};
  host.writeFile = (f, data) => { if (f.startsWith(ROOT)) outputs[f.slice(ROOT.length)] = Buffer.from(data); };
  const program = ts.createProgram(names, options, host);
  // tsc's order: options, global and syntactic diagnostics, then (only if there were none) semantic ones.
  // The lib files are the image's, the same for every program, and pass: only the program's files are checked.
  const mine = program.getSourceFiles().filter((sf) => own(sf.fileName));
  let diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(),
    ...mine.flatMap((sf) => program.getSyntacticDiagnostics(sf))];
  if (!diagnostics.length) diagnostics = [...program.getGlobalDiagnostics(), ...mine.flatMap((sf) => program.getSemanticDiagnostics(sf))];
  // One emit per own file: emit() with no file would check every lib file first.
  for (const sf of mine) diagnostics = [...diagnostics, ...program.emit(sf).diagnostics];
  const { failed, text } = report(diagnostics);
  // tsc's exit status: 0, or with errors 2 when it emitted anyway (its default, noEmitOnError off), else 1
  const code = !failed ? 0 : Object.keys(outputs).length ? 2 : 1;
  return { code, text, outputs };
}

function transpile(files, args) {
  const options = ts.parseCommandLine(args).options;
  const outputs = {};
  let diagnostics = [];
  for (const name of Object.keys(files).filter((n) => n.endsWith(".ts"))) {
    const out = ts.transpileModule(files[name], { compilerOptions: options, fileName: ROOT + name,
                                                  reportDiagnostics: true });
    diagnostics = [...diagnostics, ...out.diagnostics];
    outputs[name.slice(0, -3) + ".js"] = Buffer.from(out.outputText); // where tsc, without --outDir, writes it
  }
  const { failed, text } = report(diagnostics);
  return { code: failed ? 2 : 0, text, outputs };
}

function u32(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }

function reply(result) {
  const parts = [u32(result.code), u32(Buffer.byteLength(result.text)), Buffer.from(result.text)];
  const names = Object.keys(result.outputs);
  parts.push(u32(names.length));
  for (const name of names) {
    const raw = Buffer.from(name);
    parts.push(u32(raw.length), raw, u32(result.outputs[name].length), result.outputs[name]);
  }
  require("fs").writeSync(1, Buffer.concat(parts));
}

// One request: [count] then [name][bytes] per file; null until all of it has arrived.
function parse(buf) {
  let at = 0;
  const take = () => {
    if (at + 4 > buf.length) return null;
    const n = buf.readUInt32BE(at);
    if (at + 4 + n > buf.length) return null;
    at += 4 + n;
    return buf.subarray(at - n, at);
  };
  if (buf.length < 4) return null;
  const count = buf.readUInt32BE(0);
  at = 4;
  const files = {};
  for (let i = 0; i < count; i++) {
    const name = take();
    const data = name && take();
    if (data === null || name === null) return null;
    files[name.toString()] = data.toString();
  }
  return { files, rest: buf.subarray(at) };
}

const only = process.argv[2] === "--transpile-only";
const args = process.argv.slice(only ? 3 : 2);
const build = only ? transpile : compile;
let pending = Buffer.alloc(0);
process.stdin.on("data", (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  for (let request = parse(pending); request; request = parse(pending)) {
    pending = request.rest;
    let result;
    try {
      result = build(request.files, args);
    } catch (e) { // the compiler's own crash on this program: its failure
      result = { code: 1, text: "tsc failed: " + String(e && e.stack || e), outputs: {} };
    }
    reply(result);
  }
});
process.stdin.on("end", () => process.exit(0));
