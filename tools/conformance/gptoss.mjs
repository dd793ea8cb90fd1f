// gptoss.mjs - gptoss.sh's verdicts: trit's logits for a gpt-oss GGUF twin against llama.cpp.
//
//   node gptoss.mjs LABEL DIR NSEQ
//
// DIR holds run.K.f32 (`trit run --logits` of the twin's container, raw little-endian f32),
// q.jsonl (llama.cpp on the BF16/MXFP4 twin, default KV cache) and f.jsonl (llama.cpp on the F32
// twin, LOGITS_KV=F32: its float reference). Per sequence: (a) trit's top-5 set equals llama.cpp
// F32's; (b) max |trit - llama F32| <= llama.cpp's own spread max |llama q - llama F32|. Prints one
// PASS/FAIL line per check and a NOTE with trit against llama.cpp's quantized run; exit status =
// number of failures.
import fs from "node:fs";

const [label, dir, nseqArg] = process.argv.slice(2);
const nseq = Number(nseqArg);
const lines = (f) => fs.readFileSync(`${dir}/${f}`, "utf8").trim().split("\n").map((l) => JSON.parse(l).logits);
const q = lines("q.jsonl"), f = lines("f.jsonl");
const top5 = (v) => v.map((x, i) => [i, x]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 5).map((p) => p[0]).sort((a, b) => a - b);
const dist = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
let fails = 0, worst = 0, spreadMin = Infinity, worstQ = 0, sameQ = 0;
for (let k = 0; k < nseq; k++) {
    const buf = fs.readFileSync(`${dir}/run.${k}.f32`);
    const t = Array.from({length: buf.length / 4}, (_, i) => buf.readFloatLE(4 * i));
    if (t.length !== f[k].length || t.length !== q[k].length) {
        console.log(`FAIL  ${label} seq ${k}: vocabulary sizes ${t.length} / ${f[k].length} / ${q[k].length}`);
        fails++;
        continue;
    }
    const dF = dist(t, f[k]), spread = dist(q[k], f[k]), dQ = dist(t, q[k]);
    const same = JSON.stringify(top5(t)) === JSON.stringify(top5(f[k]));
    sameQ += JSON.stringify(top5(t)) === JSON.stringify(top5(q[k]));
    worst = Math.max(worst, dF);
    worstQ = Math.max(worstQ, dQ);
    spreadMin = Math.min(spreadMin, spread);
    if (!same || !(dF <= spread)) {
        console.log(`FAIL  ${label} seq ${k}: top-5 ${same ? "equal" : "differ"}, max|trit - llama F32| ${dF.toExponential(3)} vs llama's spread ${spread.toExponential(3)}`);
        fails++;
    }
}
if (!fails)
    console.log(`PASS  ${label}: ${nseq} sequences, top-5 sets equal to llama.cpp F32, max|trit - llama F32| ${worst.toExponential(3)} <= llama's F32-vs-quantized spread (smallest ${spreadMin.toExponential(3)})`);
console.log(`NOTE  ${label}: against llama.cpp's BF16/MXFP4 run: max|dlogit| ${worstQ.toExponential(3)}, top-5 sets equal in ${sameQ}/${nseq}`);
process.exit(fails);
