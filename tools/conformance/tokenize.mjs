// tokenize.mjs - llama.cpp's tokenization of a list of texts with a vocab-only GGUF.
//
//   node tokenize.mjs VOCAB.gguf TEXTS.json > IDS.json
//
// TEXTS.json is a JSON array of strings; prints a JSON array with one array of token ids per
// text: model.tokenize(text, false) of the CPU llama.cpp build in node-llama-cpp (no BOS added,
// control tokens not parsed). Used by tests/test_gptoss_tok.c (o200k's "gpt-4o" pre-tokenizer).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import fs from "node:fs";

const [modelPath, textsPath] = process.argv.slice(2);
if (!modelPath || !textsPath) {
    console.error("usage: node tokenize.mjs VOCAB.gguf TEXTS.json");
    process.exit(2);
}
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const llama = await getLlama({build: "never", gpu: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, vocabOnly: true});
console.log(JSON.stringify(texts.map((t) => Array.from(model.tokenize(t, false)))));
await model.dispose();
await llama.dispose();
