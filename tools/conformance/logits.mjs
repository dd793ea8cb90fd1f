// logits.mjs - llama.cpp's last-position logits for a GGUF and a token list, as JSON.
//
//   node logits.mjs MODEL.gguf 1,403,407,261,378 > out.json
//   node logits.mjs MODEL.gguf "1,2,3;7;5,6" > out.jsonl     (one JSON line per sequence)
//
// Uses the CPU llama.cpp build shipped in node-llama-cpp (no download, no build), the same
// calls that made shared/fixtures/ref-logits: getLlama({build: "never", gpu: false}),
// loadModel, createContext, and controlledEvaluate with generateNext {logits: true} on the
// last token. Prints {"model", "tokens", "n_vocab", "top5", "logits"} per sequence; every
// sequence starts from an empty context (the model is loaded once).
//
// LOGITS_KV=F32 keeps the KV cache in F32 instead of llama.cpp's default F16, with flash
// attention off: with flash attention (node-llama-cpp's default "auto" enables it on CPU) the
// cache type option has no effect (measured: identical logits for F16 and F32). agree.sh uses
// it so that llama.cpp's run of F32 weights is a float reference.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import path from "node:path";

const [modelPath, seqArg] = process.argv.slice(2);
if (!modelPath || !seqArg) {
    console.error("usage: node logits.mjs MODEL.gguf TOKEN,TOKEN,...[;TOKEN,...]");
    process.exit(2);
}
const kvType = process.env.LOGITS_KV || "";
if (kvType !== "" && kvType !== "F16" && kvType !== "F32") {
    console.error(`logits.mjs: LOGITS_KV must be F16 or F32, not '${kvType}'`);
    process.exit(2);
}
const seqs = seqArg.split(";").map((part) => part.split(",").map((s) => {
    const n = Number(s);
    if (s === "" || !Number.isInteger(n) || n < 0) {
        console.error(`logits.mjs: bad token id '${s}'`);
        process.exit(2);
    }
    return n;
}));

const llama = await getLlama({build: "never", gpu: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const kvOpts = kvType === "" ? {} : {flashAttention: false, experimentalKvCacheKeyType: kvType,
                                     experimentalKvCacheValueType: kvType};
for (const tokens of seqs) {
    const context = await model.createContext({contextSize: Math.max(64, tokens.length + 8), threads: 1, ...kvOpts});
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
}
await model.dispose();
await llama.dispose();
