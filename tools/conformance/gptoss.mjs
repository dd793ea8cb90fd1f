// gptoss.mjs - gptoss.sh's verdicts: trit's logits for a gpt-oss GGUF twin against llama.cpp.
//
//   node gptoss.mjs LABEL DIR NSEQ
//
// DIR holds run.K.f32 (`trit run --logits` of the twin's container, raw little-endian f32),
// q.jsonl (llama.cpp on the BF16/MXFP4 twin, default KV cache), f.jsonl (llama.cpp on the F32
// twin, LOGITS_KV=F32: its float reference) and m.jsonl (llama.cpp on the F32-weights, MXFP4-
// experts twin, LOGITS_KV=F32: the math trit computes, MXFP4 rows times q8_0 activations).
// Per sequence: (a) trit's top-5 set equals llama MXFP4's and llama F32's; (b) max |trit - llama
// MXFP4| <= half of llama.cpp's own quantization spread max |llama MXFP4 - llama F32| (a runner
// that skipped the activation quantization would sit about a whole spread away); and (c) at least
// half the sequences agree with llama MXFP4 to float rounding (1e-5): a q8_0 value that one side
// rounds up and the other down (inputs a few ulp apart) moves a sequence by more, so not all must.
// Prints PASS/FAIL lines and NOTEs (the sequences past 1e-5, trit against llama.cpp's BF16/MXFP4
// run); exit status = number of failures.
import fs from "node:fs";

const [label, dir, nseqArg] = process.argv.slice(2);
const nseq = Number(nseqArg);
const lines = (f) => fs.readFileSync(`${dir}/${f}`, "utf8").trim().split("\n").map((l) => JSON.parse(l).logits);
const q = lines("q.jsonl"), f = lines("f.jsonl"), m = lines("m.jsonl");
const top5 = (v) => v.map((x, i) => [i, x]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 5).map((p) => p[0]).sort((a, b) => a - b);
const same5 = (a, b) => JSON.stringify(top5(a)) === JSON.stringify(top5(b));
const dist = (a, b) => a.reduce((mx, x, i) => Math.max(mx, Math.abs(x - b[i])), 0);
const ROUNDING = 1e-5;
let fails = 0, worst = 0, worstF = 0, spreadMin = Infinity, worstQ = 0, sameQ = 0, atRounding = 0;
const past = [];
for (let k = 0; k < nseq; k++) {
    const buf = fs.readFileSync(`${dir}/run.${k}.f32`);
    const t = Array.from({length: buf.length / 4}, (_, i) => buf.readFloatLE(4 * i));
    if (t.length !== f[k].length || t.length !== q[k].length || t.length !== m[k].length) {
        console.log(`FAIL  ${label} seq ${k}: vocabulary sizes ${t.length} / ${f[k].length} / ${q[k].length} / ${m[k].length}`);
        fails++;
        continue;
    }
    const dM = dist(t, m[k]), spread = dist(m[k], f[k]);
    worst = Math.max(worst, dM);
    worstF = Math.max(worstF, dist(t, f[k]));
    worstQ = Math.max(worstQ, dist(t, q[k]));
    spreadMin = Math.min(spreadMin, spread);
    sameQ += same5(t, q[k]);
    if (dM <= ROUNDING) atRounding++;
    else past.push(`seq ${k} ${dM.toExponential(3)} (spread ${spread.toExponential(3)})`);
    if (!same5(t, m[k]) || !same5(t, f[k]) || !(dM <= spread / 2)) {
        console.log(`FAIL  ${label} seq ${k}: top-5 vs llama MXFP4 ${same5(t, m[k]) ? "equal" : "differ"}, vs llama F32 ` +
                    `${same5(t, f[k]) ? "equal" : "differ"}; max|trit - llama MXFP4| ${dM.toExponential(3)} vs half llama's spread ${(spread / 2).toExponential(3)}`);
        fails++;
    }
}
if (2 * atRounding < nseq) {
    console.log(`FAIL  ${label}: only ${atRounding}/${nseq} sequences agree with llama MXFP4 to ${ROUNDING.toExponential(0)}`);
    fails++;
}
if (!fails)
    console.log(`PASS  ${label}: ${nseq} sequences, top-5 sets equal to llama.cpp's MXFP4 and F32 runs, max|trit - llama MXFP4| ` +
                `${worst.toExponential(3)} <= half llama's MXFP4-vs-F32 spread (smallest ${spreadMin.toExponential(3)}), ` +
                `${atRounding}/${nseq} within ${ROUNDING.toExponential(0)}`);
if (past.length) console.log(`NOTE  ${label}: past float rounding (likely a q8_0 activation value rounded the other way): ${past.join("; ")}`);
console.log(`NOTE  ${label}: max|trit - llama F32| ${worstF.toExponential(3)}; against llama.cpp's BF16/MXFP4 run: max|dlogit| ` +
            `${worstQ.toExponential(3)}, top-5 sets equal in ${sameQ}/${nseq}`);
process.exit(fails);
