// logits.mjs - llama.cpp's last-position logits for a GGUF and a token list, as JSON.
//
//   node logits.mjs MODEL.gguf 1,403,407,261,378 > out.json
//
// Uses the CPU llama.cpp build shipped in node-llama-cpp (no download, no build), the same
// calls that made shared/fixtures/ref-logits: getLlama({build: "never", gpu: false}),
// loadModel, createContext, and controlledEvaluate with generateNext {logits: true} on the
// last token. Prints {"model", "tokens", "n_vocab", "top5", "logits"}.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import path from "node:path";

const [modelPath, tokArg] = process.argv.slice(2);
if (!modelPath || !tokArg) {
    console.error("usage: node logits.mjs MODEL.gguf TOKEN,TOKEN,...");
    process.exit(2);
}
const tokens = tokArg.split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) {
        console.error(`logits.mjs: bad token id '${s}'`);
        process.exit(2);
    }
    return n;
});

const llama = await getLlama({build: "never", gpu: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: Math.max(64, tokens.length + 8), threads: 1});
const seq = context.getSequence();
const input = tokens.map((t, i) => (i === tokens.length - 1 ? [t, {generateNext: {logits: true}}] : t));
const res = await seq.controlledEvaluate(input);
const map = res[res.length - 1]?.next?.logits;
if (!map || map.size === 0) {
    console.error("logits.mjs: llama.cpp returned no logits");
    process.exit(1);
}
const logits = new Array(map.size).fill(0);
for (const [tok, v] of map) logits[tok] = v;
const top5 = logits.map((v, i) => [i, v]).sort((a, b) => b[1] - a[1]).slice(0, 5);
console.log(JSON.stringify({model: path.basename(modelPath), tokens, n_vocab: logits.length, top5, logits}));
await context.dispose();
await model.dispose();
await llama.dispose();
