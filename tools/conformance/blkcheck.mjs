// blkcheck.mjs - the checks of blk.sh (block-quantized GGUFs kept as they are).
//
//   node blkcheck.mjs same A.gguf B.gguf LABEL
//       every tensor of A is in B with the same ggml type, shape and bytes (trit export of the
//       container converted from A must give A's tensors back bit for bit); prints the types seen
//   node blkcheck.mjs agree LABEL RUNBASE N Q.jsonl F32.jsonl
//       per sequence k < N: trit's logits (RUNBASE.k.f32) against llama.cpp on the same
//       quantized GGUF (Q.jsonl): the top-5 sets are equal (but for a near-tie within 2 |dlogit|,
//       named in the output) and max |dlogit| <= llama.cpp's own spread on that sequence (max
//       |dlogit| between its runs of Q and of the F32 original)
// Prints PASS/FAIL lines; exit 1 on a failure.
import fs from "node:fs";

// ---- GGUF tensor infos (our own conformance files: trusted input) ----
function ggufTensors(path) {
    const b = fs.readFileSync(path);
    let p = 8;
    const u32 = () => { const v = b.readUInt32LE(p); p += 4; return v; };
    const u64 = () => { const v = Number(b.readBigUInt64LE(p)); p += 8; return v; };
    const str = () => { const n = u64(); const s = b.toString("utf8", p, p + n); p += n; return s; };
    const fixed = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};
    const skip = (ty) => {
        if (ty === 8) { str(); return; }
        if (ty === 9) { const et = u32(); const n = u64(); for (let i = 0; i < n; i++) skip(et); return; }
        p += fixed[ty];
    };
    const nT = u64(), nKv = u64();
    let align = 32;
    for (let i = 0; i < nKv; i++) {
        const k = str(), ty = u32();
        if (k === "general.alignment") { align = b.readUInt32LE(p); }
        skip(ty);
    }
    const ts = [];
    for (let i = 0; i < nT; i++) {
        const name = str(), nd = u32(), ne = [];
        for (let d = 0; d < nd; d++) ne.push(u64());
        ts.push({name, ne, type: u32(), off: u64()});
    }
    const data = Math.ceil(p / align) * align;
    const sorted = [...ts].sort((x, y) => x.off - y.off);
    for (let i = 0; i < sorted.length; i++) {
        const end = i + 1 < sorted.length ? sorted[i + 1].off : b.length - data;
        sorted[i].bytes = b.subarray(data + sorted[i].off, data + end);
    }
    return ts;
}

const typeName = {0: "F32", 1: "F16", 8: "Q8_0", 12: "Q4_K", 14: "Q6_K", 30: "BF16", 39: "MXFP4"};
// bytes of a tensor of these types (the rest of a slice is alignment padding)
const geo = {0: [1, 4], 1: [1, 2], 30: [1, 2], 8: [32, 34], 12: [256, 144], 14: [256, 210], 39: [32, 17]};
const nbytes = (t) => {
    const [be, bb] = geo[t.type] || [0, 0];
    return be ? t.ne.reduce((a, x) => a * x, 1) / be * bb : t.bytes.length;
};

const [mode, ...args] = process.argv.slice(2);
if (mode === "same") {
    const [a, b, label] = args;
    const ta = ggufTensors(a), tb = new Map(ggufTensors(b).map((t) => [t.name, t]));
    let bad = [], seen = {};
    for (const t of ta) {
        const u = tb.get(t.name);
        const n = nbytes(t);
        seen[typeName[t.type] || t.type] = (seen[typeName[t.type] || t.type] || 0) + 1;
        if (!u) { bad.push(`${t.name} missing`); continue; }
        if (u.type !== t.type || JSON.stringify(u.ne) !== JSON.stringify(t.ne)) { bad.push(`${t.name} type/shape`); continue; }
        if (Buffer.compare(t.bytes.subarray(0, n), u.bytes.subarray(0, n)) !== 0) bad.push(`${t.name} bytes`);
    }
    const ok = bad.length === 0 && ta.length > 0;
    const types = Object.entries(seen).map(([k, v]) => `${v} ${k}`).join(", ");
    console.log(`${ok ? "PASS" : "FAIL"}  ${label}: trit export gives back ${ta.length} tensors bit for bit (${types})` +
                (ok ? "" : `; differ: ${bad.slice(0, 4).join(", ")}`));
    process.exit(ok ? 0 : 1);
}
if (mode === "agree") {
    const [label, base, n, qPath, fPath] = args;
    const lines = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l).logits);
    const q = lines(qPath), f = lines(fPath);
    const top5 = (v) => new Set([...v.keys()].sort((a, b) => v[b] - v[a] || a - b).slice(0, 5));
    let ok = true, worst = 0, worstSpread = Infinity, msg = [], ties = [];
    for (let k = 0; k < Number(n); k++) {
        const buf = fs.readFileSync(`${base}.${k}.f32`);
        const r = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
        let d = 0, s = 0;
        for (let i = 0; i < r.length; i++) {
            d = Math.max(d, Math.abs(r[i] - q[k][i]));
            s = Math.max(s, Math.abs(q[k][i] - f[k][i]));
        }
        const tr = top5(r), tq = top5(q[k]);
        const same5 = tr.size === tq.size && [...tr].every((x) => tq.has(x));
        // A top-5 difference is accepted only as a near-tie: every token in one set and not in
        // the other has a llama.cpp logit within 2 |d| of llama.cpp's 5th, i.e. a difference no
        // larger than the measured one could swap it (agree.mjs's rule, with |d| as the bound).
        const fifth = [...tq].map((i) => q[k][i]).reduce((a, b) => Math.min(a, b));
        const odd = [...tr].filter((x) => !tq.has(x)).concat([...tq].filter((x) => !tr.has(x)));
        const tie = !same5 && odd.every((i) => Math.abs(q[k][i] - fifth) <= 2 * d);
        if (tie) ties.push(`seq ${k}: tokens ${odd.join(",")} within ${(2 * d).toExponential(2)} of the 5th`);
        if ((!same5 && !tie) || !(d <= s)) { ok = false; msg.push(`seq ${k}: ${same5 ? "" : "top-5 differ, "}|d| ${d.toExponential(2)} vs spread ${s.toExponential(2)}`); }
        worst = Math.max(worst, d);
        worstSpread = Math.min(worstSpread, s);
    }
    console.log(`${ok ? "PASS" : "FAIL"}  ${label}: trit run vs llama.cpp on the same GGUF, ${n} sequences: top-5 equal, ` +
                `max |dlogit| ${worst.toExponential(2)} <= llama.cpp's F32-vs-quantized spread (smallest ${worstSpread.toExponential(2)})` +
                (ties.length ? ` (near-ties: ${ties.join("; ")})` : "") +
                (ok ? "" : `; ${msg.slice(0, 3).join("; ")}`));
    process.exit(ok ? 0 : 1);
}
console.error("usage: node blkcheck.mjs same A.gguf B.gguf LABEL | agree LABEL RUNBASE N Q.jsonl F32.jsonl");
process.exit(2);
