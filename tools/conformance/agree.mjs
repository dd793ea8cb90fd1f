// agree.mjs - the runner vs llama.cpp on one generated ternary model (agree.sh makes the files).
//
//   node agree.mjs same|wide LABEL DIR NSEQ [ref] [bf16out]
//
// Reads, for sequences k = 0 .. NSEQ-1: DIR/LABEL.run.k.f32 (trit run --logits: n_vocab LE
// float32), and one JSON line per sequence in DIR/LABEL.tq2.jsonl (llama.cpp on the TQ2_0
// export) and DIR/LABEL.f32.jsonl (llama.cpp on the --dequant --f32 export); with `ref`, also
// DIR/LABEL.ref-{token,q8k,float,float0}.jsonl from ref_forward.mjs. `bf16out`: the output
// projection is BF16 (a model converted from BF16 safetensors), see ALLOW below.
//
// Numbers (max over the vocabulary, then over the sequences):
//   run-F32   max |runner - llama F32|
//   spread    max |llama TQ2_0 - llama F32|      llama.cpp's own quantized-vs-float spread
//   run-TQ2   max |runner - llama TQ2_0|
// Checks (one PASS/FAIL/NOTE line each; exit status = number of FAILs):
//   (a) the top-5 token sets of the runner and llama TQ2_0 agree on every sequence, except
//       for near-ties: a sequence may differ only by tokens whose llama-F32 logits lie within
//       ALLOW of the rank-5 logit (`same`: the two may differ by ALLOW per logit, (c), so such
//       a token may fall either side of the boundary) or within 2 x spread (`wide`: the two
//       quantizations may order it either way); the number of strictly equal sequences is
//       printed.
//   (b) run-F32 <= spread. `same` (every quantized row is one 256-value block, so the runner's
//       per-token scale IS llama.cpp's q8_K block scale and the two compute the same function):
//       run-F32 <= spread + 1e-3, the allowance being llama.cpp's F16 rounding of the output
//       projection's input in both its runs (tied F16 token_embd), which the runner does not
//       do; `wide`: printed as NOTE when it does not hold (FAIL with CONF_AGREE_STRICT=1): the
//       two implementations quantize activations differently there, and (d) is the check
//       that each computes what it should.
//   (c) `same`: run-TQ2 <= 1e-3 (same quantization: equal up to that F16 rounding).
//   ALLOW: the 1e-3 of (b), (c) and (e) is for an F16 output projection. With `bf16out`
//       llama.cpp rounds that input to BF16 instead (its BF16 x BF16 dot product), 8 bits of
//       significand against F16's 11, so the allowance is 8 x 1e-3 = 8e-3 (observed 1.3e-3 to
//       2.0e-3 per sequence; with the output written F32 instead the runner and llama.cpp
//       agree within 5e-7 on the same models, so that rounding is all of it, except on one
//       sequence of agree.sh's moe-bf16, 5.9e-3, where an int8 rounding also lands the other
//       way: (d) names it).
//   (e) `wide`: the runner again with --act-scales block (agree.sh's LABEL.blk.k.f32), which
//       quantizes activations on q8_K's grain like llama TQ2_0: top-5 sets strictly equal;
//       (b) and (c) as for one-block models but per sequence, on at least 2/3 of them (the
//       rest: an int8 rounding that lands the other way, named); with `ref`, ref_forward.mjs
//       with q8_K blocks and no F16 output rounding (ref-q8k0) reproduces it within 1e-4.
//   (d) with `ref`: the runner equals ref_forward with per-token int8 activations, llama TQ2_0
//       equals it with q8_K blocks (+ F16 output input), llama F32 equals it in float (+ F16
//       output input), each within 1e-4 on at least 2/3 of the sequences (the rest: a value
//       within an ulp of a rounding boundary rounds differently in float32 and in the
//       reference's double, and quantization carries the step on; listed). Then the
//       reference's own per-token and q8_K errors against its float run (ref-float0: without,
//       ref-float: with the F16 output input) are the two quantizations' spreads on equal
//       footing, and for MoE the expert choices each quantization changes are counted.
import fs from "node:fs";

const [mode, label, dir, nArg, ...flags] = process.argv.slice(2);
const refArg = flags.includes("ref") ? "ref" : "";
const ALLOW = flags.includes("bf16out") ? 8e-3 : 1e-3;
const allowText = ALLOW.toExponential(0);
const nSeq = Number(nArg);
if (!["same", "wide"].includes(mode) || !label || !dir || !(nSeq > 0)) {
    console.error("usage: node agree.mjs same|wide LABEL DIR NSEQ [ref] [bf16out]");
    process.exit(2);
}
const strict = process.env.CONF_AGREE_STRICT === "1";
const lines = (f) => fs.readFileSync(`${dir}/${label}.${f}.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l).logits);
const f32file = (k, what = "run") => {
    const b = fs.readFileSync(`${dir}/${label}.${what}.${k}.f32`);
    return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
};
const R = Array.from({length: nSeq}, (_, k) => f32file(k)), T = lines("tq2"), F = lines("f32");
for (const [name, v] of [["llama TQ2_0", T], ["llama F32", F]]) {
    if (v.length !== nSeq) throw new Error(`${label}: ${name}: ${v.length} sequences, expected ${nSeq}`);
}
const maxdiff = (a, b) => (a.length !== b.length ? Infinity : a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0));
const overSeq = (A, B) => Math.max(...A.map((a, k) => maxdiff(a, B[k])));
const ranked = (v) => v.map((x, i) => [i, x]).sort((p, q) => q[1] - p[1] || p[0] - q[0]);
const e = (x) => x.toExponential(2);

let fails = 0;
const report = (ok, text, note = false) => {
    if (!ok && !note) fails++;
    console.log(`${ok ? "PASS" : note ? "NOTE" : "FAIL"}  ${label}: ${text}`);
};

const runF32 = overSeq(R, F), spread = overSeq(T, F), runTq2 = overSeq(R, T), ratio = runF32 / spread;

// (a) top-5 sets
let equal = 0, tiesOk = true;
const detail = [];
for (let k = 0; k < nSeq; k++) {
    const a = new Set(ranked(R[k]).slice(0, 5).map((p) => p[0]));
    const b = new Set(ranked(T[k]).slice(0, 5).map((p) => p[0]));
    const diff = [...a].filter((t) => !b.has(t)).concat([...b].filter((t) => !a.has(t)));
    if (diff.length === 0) { equal++; continue; }
    const fifth = ranked(F[k])[4][1];
    const dist = Math.max(...diff.map((t) => Math.abs(F[k][t] - fifth)));
    detail.push(`seq ${k}: tokens ${diff.join(",")} within ${e(dist)} of the rank-5 logit`);
    if (mode === "same" ? dist > ALLOW : dist > 2 * spread) tiesOk = false;
}
report(tiesOk,
       `(a) top-5 sets runner = llama TQ2_0 on ${equal}/${nSeq} sequences` +
       (detail.length ? ` (${detail.join("; ")}; near-tie bound ${mode === "same" ? e(ALLOW) + " (ALLOW)" : "2 x spread = " + e(2 * spread)})` : ""));

// (b) the runner's distance from llama's float run vs llama's own spread
const bText = `(b) max|runner - llama F32| ${e(runF32)}, llama spread max|TQ2_0 - F32| ${e(spread)}, ratio ${ratio.toFixed(3)}`;
if (mode === "same") {
    report(runF32 <= spread + ALLOW, `${bText} (<= spread + ${allowText})`);
    report(runTq2 <= ALLOW, `(c) max|runner - llama TQ2_0| ${e(runTq2)} <= ${allowText} (one 256-block per row: same activation quantization)`);
} else {
    if (runF32 <= spread) report(true, bText);
    else report(false, `${bText} > 1: BitNet's per-token int8 scale is coarser than q8_K's per-256-block scale ` +
                       `on rows of several blocks (and can flip near-tie expert choices); (d) attributes it`, !strict);
    console.log(`      ${label}: max|runner - llama TQ2_0| ${e(runTq2)}`);
}

// (e) wide models, the runner's block mode (--act-scales block: absmax per 256 values, q8_K's
// grain) against llama TQ2_0, which quantizes the same way: held to the one-block checks, per
// sequence. A sequence may miss (c)/(b) only when a value lands within an ulp of an int8
// rounding boundary, rounds the other way in one implementation's float order, and the step
// carries on (the same 2/3 rule as (d); such sequences are named).
const perSeq = (A, B) => A.map((a, k) => maxdiff(a, B[k]));
if (mode === "wide") {
    const B = Array.from({length: nSeq}, (_, k) => f32file(k, "blk"));
    let eqB = 0;
    for (let k = 0; k < nSeq; k++) {
        const a = ranked(B[k]).slice(0, 5).map((p) => p[0]).sort((x, y) => x - y).join();
        const b = ranked(T[k]).slice(0, 5).map((p) => p[0]).sort((x, y) => x - y).join();
        eqB += a === b;
    }
    report(eqB === nSeq, `(a) block mode: top-5 sets runner = llama TQ2_0 on ${eqB}/${nSeq} sequences`);
    const bF = perSeq(B, F), tF = perSeq(T, F), bT = perSeq(B, T);
    const offB = [], offC = [];
    for (let k = 0; k < nSeq; k++) {
        if (bF[k] > tF[k] + ALLOW) offB.push(`seq ${k} ${e(bF[k])} vs ${e(tF[k])}`);
        if (bT[k] > ALLOW) offC.push(`seq ${k} ${e(bT[k])}`);
    }
    const need = (off) => 3 * (nSeq - off.length) >= 2 * nSeq;
    const bMax = Math.max(...bF);
    report(need(offB), `(b) block mode: max|runner - llama F32| <= llama's spread max|TQ2_0 - F32| + ${allowText} per sequence on ` +
                       `${nSeq - offB.length}/${nSeq}` + (offB.length ? ` (${offB.join(", ")})` : "") +
                       `; over all sequences ${e(bMax)} vs ${e(spread)}, ratio ${(bMax / spread).toFixed(3)}`);
    report(need(offC), `(c) block mode: max|runner - llama TQ2_0| <= ${allowText} on ${nSeq - offC.length}/${nSeq}` +
                       (offC.length ? ` (${offC.join(", ")})` : "") + ` (same activation quantization)`);
    if (refArg === "ref") {
        const q0 = fs.readFileSync(`${dir}/${label}.ref-q8k0.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l).logits);
        const off = perSeq(B, q0).map((d, k) => (d > 1e-4 ? `seq ${k} ${e(d)}` : null)).filter(Boolean);
        report(need(off), `(d) block mode: ref_forward.mjs with q8_K blocks reproduces the runner within 1e-4 on ` +
                          `${nSeq - off.length}/${nSeq}` + (off.length ? ` (${off.join(", ")})` : ""));
    }
    console.log(`      ${label}: block mode run-F32 ${e(bMax)} spread ${e(spread)} ratio ${(bMax / spread).toFixed(3)} ` +
                `run-TQ2 ${e(Math.max(...bT))} top5 ${eqB}/${nSeq}`);
}

// (d) attribution through the independent reference
if (refArg === "ref") {
    const objs = (f) => fs.readFileSync(`${dir}/${label}.${f}.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const tok = objs("ref-token"), q8k = objs("ref-q8k"), flt = objs("ref-float"), flt0 = objs("ref-float0");
    const L = (o) => o.map((x) => x.logits);
    // sequences on which an implementation equals its reference within 1e-4; the others are
    // named with their difference (an activation within an ulp of a rounding boundary rounds
    // differently in float32 and double, and the quantization carries that step onward)
    const match = (A, B, what) => {
        const off = [];
        A.forEach((a, k) => { const d = maxdiff(a, B[k]); if (d > 1e-4) off.push(`seq ${k} ${e(d)}`); });
        return {ok: 3 * (nSeq - off.length) >= 2 * nSeq, text: `${what} ${nSeq - off.length}/${nSeq}` + (off.length ? ` (${off.join(", ")})` : "")};
    };
    const m = [match(R, L(tok), "runner = per-token int8"), match(T, L(q8k), "llama TQ2_0 = q8_K blocks"),
               match(F, L(flt), "llama F32 = float")];
    report(m.every((x) => x.ok), `(d) ref_forward.mjs reproduces each implementation within 1e-4 on sequences: ` +
                                  m.map((x) => x.text).join("; ") + ` (required: 2/3 each)`);
    let routeText = "";
    if (tok[0].routes && tok[0].routes.length) {
        const changed = (A) => A.reduce((n, o, k) => n + o.routes.filter((r, i) => r.experts.join() !== flt[k].routes[i].experts.join()).length, 0);
        const total = flt.reduce((n, o) => n + o.routes.length, 0);
        routeText = `; expert choices differing from the float run: per-token ${changed(tok)}/${total}, q8_K ${changed(q8k)}/${total}`;
    }
    console.log(`      ${label}: reference errors vs its float run: per-token ${e(overSeq(L(tok), L(flt0)))}, ` +
                `q8_K ${e(overSeq(L(q8k), L(flt)))}${routeText}`);
}
console.log(`      ${label}: run-F32 ${e(runF32)} spread ${e(spread)} ratio ${ratio.toFixed(3)} run-TQ2 ${e(runTq2)} top5 ${equal}/${nSeq}`);
process.exit(Math.min(fails, 100));
