// llama_bench.mjs - llama.cpp (the CPU build in npm node-llama-cpp) prefill and decode speed on a
// GGUF, for `make bench` (tools/bench/bench.sh runs the runner on the same model and tokens).
//
//   node llama_bench.mjs MODEL.gguf THREADS PROMPT_IDS N_GEN RUNS
//
// One model load; then RUNS + 1 timed rounds (the first is a warm-up and is not reported), each
// on a fresh context with exactly THREADS threads (getLlama maxThreads 0: the context's
// `threads` is then the number used) and flash attention off:
//   prefill  controlledEvaluate of the prompt in one batch, the last token with
//            generateNext {token} (greedy): N_prompt / wall time. Like the runner's prefill,
//            this includes the last position's logits and one sampling.
//   decode   N_GEN - 1 single-token controlledEvaluate calls, each feeding back the greedy
//            token and generating the next: (N_GEN - 1) / wall time. The runner's decode
//            likewise counts the tokens after the first one, which comes from the prefill.
// Prints one JSON object: {threads, prompt, gen, runs: [{prefill_s, prefill_tok_s, decode_s,
// decode_tok_s}], system} (system: llama.cpp's system info line, e.g. its CPU features).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, thrArg, idsArg, genArg, runsArg] = process.argv.slice(2);
const threads = Number(thrArg), nGen = Number(genArg), runs = Number(runsArg);
const prompt = (idsArg || "").split(",").map(Number);
if (!modelPath || !(threads >= 1) || !(nGen >= 2) || !(runs >= 1) || prompt.some((t) => !Number.isInteger(t) || t < 0)) {
    console.error("usage: node llama_bench.mjs MODEL.gguf THREADS PROMPT_IDS N_GEN RUNS");
    process.exit(2);
}
const greedy = {generateNext: {token: true, options: {temperature: 0}}};
const llama = await getLlama({build: "never", gpu: false, maxThreads: 0, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});
const out = {threads, prompt: prompt.length, gen: nGen, runs: [], system: llama.systemInfo};
for (let r = 0; r <= runs; r++) {
    const context = await model.createContext({contextSize: prompt.length + nGen + 16, batchSize: Math.max(512, prompt.length),
                                               threads, flashAttention: false});
    const seq = context.getSequence();
    let t0 = performance.now();
    const res = await seq.controlledEvaluate(prompt.map((t, i) => (i === prompt.length - 1 ? [t, greedy] : t)));
    const prefill = (performance.now() - t0) / 1000;
    let next = res[prompt.length - 1]?.next?.token;
    t0 = performance.now();
    for (let i = 1; i < nGen; i++) {
        if (next == null) throw new Error("llama.cpp produced no token");
        const step = await seq.controlledEvaluate([[next, greedy]]);
        next = step[0]?.next?.token;
    }
    const decode = (performance.now() - t0) / 1000;
    await context.dispose();
    if (r > 0) out.runs.push({prefill_s: prefill, prefill_tok_s: prompt.length / prefill, decode_s: decode, decode_tok_s: (nGen - 1) / decode});
}
console.log(JSON.stringify(out));
await model.dispose();
await llama.dispose();
