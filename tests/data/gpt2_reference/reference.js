// The reference side of pouch's GPT-2 tokenizer test and benchmark, on
// tiktoken's `gpt2` encoding (the npm build of openai/tiktoken).
//   node reference.js corpus OUT.jsonl MAX_MB       a varied corpus, one JSON document per line
//   node reference.js shard CORPUS.jsonl OUT.bin    llm.c's shard: [eot] + encode_ordinary(text) per document
//   node reference.js compare EXPECTED.bin ACTUAL.bin
//   node reference.js bench CORPUS.jsonl REPEATS    seconds of each pass of encode_ordinary, as JSON
"use strict";
const fs = require("fs");
const path = require("path");
const { get_encoding } = require("tiktoken");

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

// Files under `root` (sorted, recursively), valid UTF-8, until `budget` bytes.
function collectFiles(root, accept, budget, docs) {
  let used = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (used >= budget) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && accept(e.name)) {
        let text;
        try {
          const bytes = fs.readFileSync(p);
          if (bytes.length === 0 || bytes.length > 2e6) continue;
          text = strictUtf8.decode(bytes);
        } catch {
          continue;
        }
        docs.push({ text, source: root.split("/").pop() });
        used += Buffer.byteLength(text);
      }
    }
  };
  walk(root);
  return used;
}

// A seeded generator (mulberry32), so the synthetic documents are the same in every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Text that stresses the pre-tokenizer: characters of every assigned
// category and script (letters, marks, numbers of many scripts, symbols,
// emoji), whitespace of every kind and run length, contractions and
// near-contractions, digit runs, long runs of one class.
function syntheticDocs(count, seed) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const assigned = /[^\p{Cn}\p{Cs}\p{Co}]/u;
  const pool = [];
  // Node's own Unicode may be newer than tiktoken's: characters it adds are
  // Other to both tokenizers, which this checks too.
  for (const [lo, hi] of [[0x20, 0x40000], [0xe0000, 0xe0200]])
    for (let cp = lo; cp < hi; cp++) {
      const ch = String.fromCodePoint(cp);
      if (assigned.test(ch)) pool.push(ch);
    }
  const ws = [" ", "  ", "   ", "\n", "\n\n", "\t", " \n", "\n ", "\u00a0", "\u3000", "\u2028", "\u2029", "\r\n",
              "\u0085", " \t ", "\u000b", "\f", "\u1680", "\u2003 ", " \u202f", "\u205f\u205f", "\u001f", "\u200b"];
  const bits = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'", "''", "'x", "\u2019s", "don't",
                "we're", "you'LL", "123", "4.5", "1,000,000", "\u216b", "\u0663\u0664", "x\u00b2", "\u2460",
                "...", "!?", "e\u0301", "na\u00efve", "\u65e5\u672c\u8a9e", "\u041f\u0440\u0438\u0432\u0435\u0442",
                "\u{1f600}\u{1f44d}", "\u{1f1eb}\u{1f1f7}", "<|endoftext|>", "\ufeff", "\ud55c\uad6d\uc5b4",
                "\u0645\u0631\u062d\u0628\u0627", "\u0928\u092e\u0938\u094d\u0924\u0947", "\u{20000}\u{2A6D6}",
                "\u{31350}", "\u{1E4D0}\u{11F04}"];
  const docs = [];
  for (let d = 0; d < count; d++) {
    const out = [];
    const n = 200 + Math.floor(r() * 3000);
    for (let k = 0; k < n; k++) {
      const x = r();
      if (x < 0.3) {
        const len = 1 + Math.floor(r() * 8);
        let w = "";
        for (let i = 0; i < len; i++) w += pick(pool);
        out.push(w);
      } else if (x < 0.55) out.push(pick(ws));
      else if (x < 0.85) out.push(pick(bits));
      else if (x < 0.97) out.push(String.fromCharCode(0x20 + Math.floor(r() * 95)).repeat(1 + Math.floor(r() * 3)));
      else out.push(pick([" ", "=", "a", "7", "\n", "-", "\u00e9"]).repeat(1 + Math.floor(r() * 400)));
    }
    docs.push({ text: out.join(""), source: "synthetic" });
  }
  return docs;
}

function pythonStdlib() {
  const dirs = fs.readdirSync("/usr/lib").filter((n) => /^python3\.\d+$/.test(n)).sort();
  return dirs.length ? path.join("/usr/lib", dirs[dirs.length - 1]) : null;
}

function corpus(outPath, maxMb) {
  const budget = maxMb * 1e6;
  const docs = [];
  const stdlib = pythonStdlib();
  if (!stdlib) throw new Error("no /usr/lib/python3.N (Debian's python3 package) to take Python sources from");
  const py = collectFiles(stdlib, (n) => n.endsWith(".py"), budget * 0.6, docs);
  const doc = collectFiles("/usr/share/doc", (n) => !/\.(gz|xz|bz2|png|jpg|gif|ico|pdf|woff2?|ttf)$/.test(n),
                           budget * 0.25, docs);
  const synthetic = syntheticDocs(60, 20240520);
  docs.push(...synthetic);
  const synBytes = synthetic.reduce((s, d) => s + Buffer.byteLength(d.text), 0);
  fs.writeFileSync(outPath, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  const mb = (b) => (b / 1e6).toFixed(1);
  console.log(`corpus: ${docs.length} documents: ${mb(py)} MB Python sources (${stdlib}), ` +
              `${mb(doc)} MB /usr/share/doc, ${mb(synBytes)} MB synthetic Unicode/whitespace text`);
}

function readCorpus(p) {
  return fs.readFileSync(p, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l).text);
}

// llm.c dev/data/data_common.py write_datafile(): 256 int32 header (magic
// 20240520, version 1, token count, zeros), then uint16 tokens; each
// document is [eot] + enc.encode_ordinary(text) (dev/data/fineweb.py).
function shard(corpusPath, outPath) {
  const enc = get_encoding("gpt2");
  const eot = 50256;
  const parts = [];
  let n = 0;
  for (const text of readCorpus(corpusPath)) {
    const ids = enc.encode_ordinary(text);
    const doc = new Uint16Array(ids.length + 1);
    doc[0] = eot;
    doc.set(ids, 1);
    parts.push(doc);
    n += doc.length;
  }
  enc.free();
  const header = new Int32Array(256);
  header[0] = 20240520;
  header[1] = 1;
  header[2] = n;
  const out = fs.openSync(outPath, "w");
  fs.writeSync(out, Buffer.from(header.buffer));
  for (const p of parts) fs.writeSync(out, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  fs.closeSync(out);
  console.log(`tiktoken gpt2: ${n} tokens -> ${outPath}`);
}

function compare(expectedPath, actualPath) {
  const e = fs.readFileSync(expectedPath), a = fs.readFileSync(actualPath);
  if (e.equals(a)) {
    console.log(`identical: ${actualPath} == ${expectedPath} (${e.length} bytes, ${(e.length - 1024) / 2} tokens)`);
    return 0;
  }
  const eh = new Int32Array(e.buffer, e.byteOffset, 256), ah = new Int32Array(a.buffer, a.byteOffset, 256);
  for (let i = 0; i < 256; i++)
    if (eh[i] !== ah[i]) console.log(`header[${i}]: expected ${eh[i]}, pouch wrote ${ah[i]}`);
  const et = new Uint16Array(e.buffer, e.byteOffset + 1024, (e.length - 1024) >> 1);
  const at = new Uint16Array(a.buffer, a.byteOffset + 1024, (a.length - 1024) >> 1);
  let i = 0;
  while (i < et.length && i < at.length && et[i] === at[i]) i++;
  const enc = get_encoding("gpt2");
  const dec = new TextDecoder("utf-8");
  const show = (t) => JSON.stringify(dec.decode(enc.decode(t.slice(Math.max(0, i - 8), i + 8))));
  console.log(`first different token at ${i} of ${et.length} (pouch has ${at.length})`);
  console.log(`  tiktoken: ${Array.from(et.slice(Math.max(0, i - 8), i + 8))} ${show(et)}`);
  console.log(`  pouch:    ${Array.from(at.slice(Math.max(0, i - 8), i + 8))} ${show(at)}`);
  return 1;
}

// encode_ordinary() of every document of a corpus, `repeats` times; prints
// {"bytes": B, "seconds": [...]} (the time of each pass) as JSON.
function bench(corpusPath, repeats) {
  const enc = get_encoding("gpt2");
  const docs = readCorpus(corpusPath);
  const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d), 0);
  const seconds = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    for (const d of docs) enc.encode_ordinary(d);
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log(JSON.stringify({ bytes, seconds }));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "corpus") corpus(args[0], Number(args[1] || 8));
else if (cmd === "shard") shard(args[0], args[1]);
else if (cmd === "compare") process.exitCode = compare(args[0], args[1]);
else if (cmd === "bench") bench(args[0], Number(args[1] || 5));
else {
  console.error("usage: node reference.js corpus|shard|compare|bench ...");
  process.exitCode = 2;
}
