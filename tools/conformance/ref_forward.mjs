// ref_forward.mjs - an independent, plain forward pass of a llama.cpp "bitnet" or "qwen3moe"
// GGUF whose weights are F32/F16/BF16 (trit export --dequant --f32), for agree.sh's diagnosis of the
// runner vs llama.cpp comparison. It makes the activation quantization of every ternary projection a
// parameter, so the two implementations can each be reproduced and their difference
// attributed:
//
//   node ref_forward.mjs MODEL.gguf "1,2,3;7;..." MODE [f16out]  > out.jsonl
//
//   MODE float   activations in float (what llama.cpp does with F32 weights)
//        token   int8 per token, absmax: q = round_half_even(x * 127 / amax), x' = q * amax/127
//                (the runner, BitNet b1.58)
//        q8k     int8 per 256-value block, the same rule per block (llama.cpp's q8_K, which
//                its TQ2_0 x q8_K dot products use)
//   f16out       round the output projection's input to that matrix's 16-bit type: F16 (llama.cpp
//                does so when the matrix is F16, as the tied token_embd of a GGUF source is), or
//                BF16 for a BF16 matrix (a model converted from BF16 safetensors)
//
// The graphs are llama.cpp's. bitnet (llm_build_bitnet): RMSNorm, Q/K/V, NEOX RoPE, causal
// softmax attention (GQA), attn_sub_norm, output projection, residual; RMSNorm, SiLU(gate) *
// up, ffn_sub_norm, down, residual. qwen3moe: the same attention with per-head RMSNorm of Q
// and K (attn_q_norm/attn_k_norm) before RoPE and no sub-norms; the FFN is the router
// (ffn_gate_inp, float), softmax over the experts, the top expert_used_count, their weights
// renormalized to sum 1, and per expert down(SiLU(gate x) * up x). Then output_norm and the
// logits from output.weight or the tied token_embd. Arithmetic is double precision; one JSON
// line {"logits": [...], "routes": [...]} per sequence, routes (qwen3moe) listing per
// position and layer the chosen experts and the router probability margin between the last
// chosen and the first unchosen expert. Only F32, F16 and BF16 tensors are read (no `.scale`).
import fs from "node:fs";

const [file, seqArg, mode, f16opt] = process.argv.slice(2);
if (!file || !seqArg || !["float", "token", "q8k"].includes(mode) || (f16opt && f16opt !== "f16out")) {
    console.error("usage: node ref_forward.mjs MODEL.gguf TOKENS[;TOKENS...] float|token|q8k [f16out]");
    process.exit(2);
}
const buf = fs.readFileSync(file);
const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
let off = 0;
const u32 = () => { off += 4; return dv.getUint32(off - 4, true); };
const u64 = () => { off += 8; return Number(dv.getBigUint64(off - 8, true)); };
const str = () => { const n = u64(); off += n; return buf.toString("utf8", off - n, off); };
const SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};
function value(t) {
    switch (t) {
    case 4: return u32();
    case 5: off += 4; return dv.getInt32(off - 4, true);
    case 6: off += 4; return dv.getFloat32(off - 4, true);
    case 8: return str();
    case 9: { const et = u32(), n = u64(), a = []; for (let i = 0; i < n; i++) a.push(value(et)); return a; }
    case 10: return u64();
    default:
        if (!(t in SIZES)) throw new Error(`${file}: KV type ${t}`);
        off += SIZES[t];
        return null;
    }
}
if (u32() !== 0x46554747) throw new Error(`${file}: not GGUF`);
u32();
const nTensors = u64(), nKv = u64(), kv = {}, info = {};
for (let i = 0; i < nKv; i++) { const k = str(); kv[k] = value(u32()); }
for (let i = 0; i < nTensors; i++) {
    const name = str(), nd = u32(), ne = [];
    for (let j = 0; j < nd; j++) ne.push(u64());
    info[name] = {ne, type: u32(), offset: u64()};
}
const align = kv["general.alignment"] || 32;
const dataStart = Math.ceil(off / align) * align;
const arch = kv["general.architecture"];
if (arch !== "bitnet" && arch !== "qwen3moe") throw new Error(`${file}: architecture '${arch}', not bitnet or qwen3moe`);
const hp = (k) => kv[`${arch}.${k}`];

function f16ToF32(h) {
    const e = (h >> 10) & 31, m = h & 1023;
    const v = e === 0 ? m * 2 ** -24 : e === 31 ? NaN : (1 + m / 1024) * 2 ** (e - 15);
    return h >> 15 ? -v : v;
}
const bf16ToF32 = (h) => { const b = new DataView(new ArrayBuffer(4)); b.setUint32(0, h << 16); return b.getFloat32(0); };
// nearest BF16 value (ties to even: ggml's GGML_FP32_TO_BF16), for the f16out option
function roundBF16(x) {
    if (x === 0 || !Number.isFinite(x)) return x;
    const b = new DataView(new ArrayBuffer(4));
    b.setFloat32(0, x);
    const u = b.getUint32(0);
    return bf16ToF32(((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff);
}
// nearest F16 value (ties to even), for the f16out option
function roundF16(x) {
    if (x === 0 || !Number.isFinite(x)) return x;
    const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14), q = 2 ** (e - 10);
    const r = Math.abs(x) / q, fl = Math.floor(r);
    const n = r - fl > 0.5 || (r - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
    return Math.sign(x) * n * q;
}
function tensor(name) {
    const t = info[name];
    if (!t) return null;
    const n = t.ne.reduce((a, b) => a * b, 1), p = dataStart + t.offset, a = new Float64Array(n);
    const rows = n / t.ne[0];
    if (t.type === 0) for (let i = 0; i < n; i++) a[i] = dv.getFloat32(p + 4 * i, true);
    else if (t.type === 1) for (let i = 0; i < n; i++) a[i] = f16ToF32(dv.getUint16(p + 2 * i, true));
    else if (t.type === 30) for (let i = 0; i < n; i++) a[i] = bf16ToF32(dv.getUint16(p + 2 * i, true));
    else throw new Error(`${file}: tensor '${name}' has ggml type ${t.type}; export with --dequant --f32`);
    return {a, cols: t.ne[0], rows, ne: t.ne, type: t.type};
}
// expert e of a 3-D [ne0, ne1, n_expert] stack, as a matrix of ne1 rows
const slice = (t, e) => ({a: t.a.subarray(e * t.ne[0] * t.ne[1], (e + 1) * t.ne[0] * t.ne[1]), cols: t.ne[0], rows: t.ne[1]});

const nEmbd = hp("embedding_length"), nLayer = hp("block_count"), nHead = hp("attention.head_count");
const nHeadKv = hp("attention.head_count_kv") || nHead, eps = hp("attention.layer_norm_rms_epsilon");
const hd = hp("attention.key_length") || nEmbd / nHead;
const base = hp("rope.freq_base") || 10000, ropeDim = hp("rope.dimension_count") || hd;
const nExpert = hp("expert_count") || 0, nUsed = hp("expert_used_count") || 0;

const roundHalfEven = (v) => { const f = Math.floor(v), d = v - f; return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f; };
// the activation quantization under test: x -> the values the integer dot products see
function quant(x) {
    if (mode === "float") return x;
    const n = x.length, blk = mode === "q8k" ? 256 : n, y = new Float64Array(n);
    for (let b = 0; b < n; b += blk) {
        const end = Math.min(n, b + blk);
        let amax = 0;
        for (let i = b; i < end; i++) amax = Math.max(amax, Math.abs(x[i]));
        if (amax === 0) continue;
        for (let i = b; i < end; i++) y[i] = Math.min(127, Math.max(-127, roundHalfEven(x[i] * 127 / amax))) * amax / 127;
    }
    return y;
}
function matvec(w, x) {
    const y = new Float64Array(w.rows);
    for (let r = 0; r < w.rows; r++) {
        let s = 0;
        const o = r * w.cols;
        for (let i = 0; i < w.cols; i++) s += w.a[o + i] * x[i];
        y[r] = s;
    }
    return y;
}
const ternary = (w, x) => matvec(w, quant(x));
function rmsnorm(x, w) {
    let s = 0;
    for (const v of x) s += v * v;
    const k = 1 / Math.sqrt(s / x.length + eps);
    return x.map((v, i) => v * k * w.a[i]);
}
function headNorm(v, heads, w) {
    if (!w) return v;
    for (let h = 0; h < heads; h++) {
        const part = rmsnorm(v.subarray(h * hd, (h + 1) * hd), w);
        v.set(part, h * hd);
    }
    return v;
}
function ropeNeox(v, pos, heads) {
    for (let h = 0; h < heads; h++) {
        for (let i = 0; i < ropeDim / 2; i++) {
            const th = pos * base ** (-2 * i / ropeDim), c = Math.cos(th), s = Math.sin(th);
            const a = v[h * hd + i], b = v[h * hd + i + ropeDim / 2];
            v[h * hd + i] = a * c - b * s;
            v[h * hd + i + ropeDim / 2] = a * s + b * c;
        }
    }
    return v;
}

const emb = tensor("token_embd.weight"), out = tensor("output.weight") || emb, outNorm = tensor("output_norm.weight");
const layers = [];
for (let l = 0; l < nLayer; l++) {
    const g = (n) => tensor(`blk.${l}.${n}.weight`);
    layers.push({an: g("attn_norm"), q: g("attn_q"), k: g("attn_k"), v: g("attn_v"), o: g("attn_output"),
                 qn: g("attn_q_norm"), kn: g("attn_k_norm"), asn: g("attn_sub_norm"), fn: g("ffn_norm"),
                 gate: g("ffn_gate"), up: g("ffn_up"), down: g("ffn_down"), fsn: g("ffn_sub_norm"),
                 router: g("ffn_gate_inp"), gx: g("ffn_gate_exps"), ux: g("ffn_up_exps"), dx: g("ffn_down_exps")});
}

const silu = (z) => z / (1 + Math.exp(-z));
// the dense (bitnet) or MoE (qwen3moe) FFN of block b on h2; MoE appends its routing to routes
function ffn(b, h2, routes) {
    if (!b.router) {
        const gt = ternary(b.gate, h2), up = ternary(b.up, h2);
        const f = gt.map((z, i) => silu(z) * up[i]);
        return ternary(b.down, b.fsn ? rmsnorm(f, b.fsn) : f);
    }
    const lg = matvec(b.router, h2), m = Math.max(...lg), ex = lg.map((z) => Math.exp(z - m));
    const z = ex.reduce((a, c) => a + c, 0), prob = ex.map((v) => v / z);
    const order = Array.from(prob.keys()).sort((i, j) => prob[j] - prob[i] || i - j);
    const used = order.slice(0, nUsed), wsum = used.reduce((a, e) => a + prob[e], 0);
    routes.push({experts: used, margin: nUsed < nExpert ? prob[order[nUsed - 1]] - prob[order[nUsed]] : 1});
    const hq = quant(h2), y = new Float64Array(nEmbd);
    for (const e of used) {
        const gt = matvec(slice(b.gx, e), hq), up = matvec(slice(b.ux, e), hq);
        const d = ternary(slice(b.dx, e), gt.map((v, i) => silu(v) * up[i]));
        for (let i = 0; i < nEmbd; i++) y[i] += (prob[e] / wsum) * d[i];
    }
    return y;
}

for (const part of seqArg.split(";")) {
    const tokens = part.split(",").map(Number);
    const kc = layers.map(() => []), vc = layers.map(() => []), routes = [];
    let logits = null;
    tokens.forEach((tok, pos) => {
        let x = emb.a.slice(tok * nEmbd, (tok + 1) * nEmbd);
        layers.forEach((b, l) => {
            const h = rmsnorm(x, b.an);
            const q = ropeNeox(headNorm(ternary(b.q, h), nHead, b.qn), pos, nHead);
            kc[l].push(ropeNeox(headNorm(ternary(b.k, h), nHeadKv, b.kn), pos, nHeadKv));
            vc[l].push(ternary(b.v, h));
            const att = new Float64Array(nHead * hd), group = nHead / nHeadKv;
            for (let hh = 0; hh < nHead; hh++) {
                const kh = Math.floor(hh / group);
                const sc = kc[l].map((k) => { let s = 0; for (let i = 0; i < hd; i++) s += q[hh * hd + i] * k[kh * hd + i]; return s / Math.sqrt(hd); });
                const m = Math.max(...sc), e = sc.map((s) => Math.exp(s - m)), z = e.reduce((a, c) => a + c, 0);
                for (let p = 0; p < e.length; p++) for (let i = 0; i < hd; i++) att[hh * hd + i] += (e[p] / z) * vc[l][p][kh * hd + i];
            }
            const a = ternary(b.o, b.asn ? rmsnorm(att, b.asn) : att);
            x = x.map((v, i) => v + a[i]);
            const d = ffn(b, rmsnorm(x, b.fn), routes);
            x = x.map((v, i) => v + d[i]);
        });
        if (pos === tokens.length - 1) {
            let h = rmsnorm(x, outNorm);
            if (f16opt && out.type === 1) h = h.map(roundF16);
            else if (f16opt && out.type === 30) h = h.map(roundBF16);
            logits = matvec(out, h);
        }
    });
    console.log(JSON.stringify({logits: Array.from(logits), routes}));
}
