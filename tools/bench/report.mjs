// report.mjs - the table of `make bench` from the JSON bench.sh collected in DIR.
//
//   node report.mjs DIR ELAPSED_SECONDS PROMPT_IDS N_GEN RUNS ZSTD_COMMAND
//
// Medians everywhere (the machine is shared; a median of RUNS runs resists one slow run).
// Units: tokens/s; GB/s and MB/s are 1e9 and 1e6 bytes/s (zstd's MB/s are 1e6 as well).
import fs from "node:fs";

const [dir, elapsed, promptIds, nGen, runs, zstdCmd] = process.argv.slice(2);
const read = (f) => fs.readFileSync(`${dir}/${f}`, "utf8");
const json = (f) => JSON.parse(read(f));
const median = (v) => {
    const s = [...v].sort((a, b) => a - b), n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const f1 = (x) => x.toFixed(1), f2 = (x) => x.toFixed(2);

const insp = json("model.inspect.json");
const md = insp.metadata;
const ggufBytes = fs.statSync(`${dir}/model.tq2.gguf`).size;
const lines = [];
const out = (s = "") => lines.push(s);

out(`make bench: ${insp.file} - bitnet (SiLU), ${md["model.n_layer"]} layers, hidden ${md["model.n_embd"]}, ` +
    `FFN ${md["model.n_ff"]}, heads ${md["model.n_head"]}/${md["model.n_head_kv"]}, vocab ${md["model.n_vocab"]}, ` +
    `${(insp.parameter_count / 1e9).toFixed(3)} B parameters`);
out(`  .trit ${(insp.file_bytes / 1e6).toFixed(1)} MB (t2 projections, F16 tied embeddings); ` +
    `GGUF TQ2_0 for llama.cpp ${(ggufBytes / 1e6).toFixed(1)} MB`);

const bw = {1: json("membw.1.json"), 2: json("membw.2.json")};
const speed = {};
for (const t of [1, 2]) {
    const rs = read(`runner.${t}.jsonl`).trim().split("\n").map((l) => JSON.parse(l).stats);
    const ll = {runs: [], system: ""};
    for (const l of read(`llama.${t}.jsonl`).trim().split("\n")) {
        const o = JSON.parse(l);
        ll.runs.push(...o.runs);
        ll.system = o.system;
    }
    speed[t] = {
        rPre: median(rs.map((s) => s.prefill_tok_s)), rDec: median(rs.map((s) => s.decode_tok_s)),
        lPre: median(ll.runs.map((r) => r.prefill_tok_s)), lDec: median(ll.runs.map((r) => r.decode_tok_s)),
        range: {rPre: rs.map((s) => s.prefill_tok_s), rDec: rs.map((s) => s.decode_tok_s),
                lPre: ll.runs.map((r) => r.prefill_tok_s), lDec: ll.runs.map((r) => r.decode_tok_s)},
        bytes: rs[0].weight_bytes_per_decode_token, kernel: rs[0].kernel, n: rs.length, nl: ll.runs.length,
        prompt: rs[0].prefill_tokens, dec: rs[0].decode_tokens, system: ll.system
    };
}
const s1 = speed[1];
out(`  prompt ${s1.prompt} tokens (prefill, one evaluation), then ${s1.dec} decoded tokens one at a time; ` +
    `medians of ${s1.n} runner and ${s1.nl} llama.cpp runs, interleaved, after warm-up runs`);
out(`  ${read("load.txt").trim().split("\n").join("; ")} (2 cores; other work shares them)`);
out(`  runner kernels: ${s1.kernel}; llama.cpp (node-llama-cpp 3.22.1 CPU build): ${(s1.system || "").replace(/\s*\|\s*$/, "")}`);
out();
const mm = (v) => `${f1(Math.min(...v))}-${f1(Math.max(...v))}`;
out("speed (tokens/s)       threads   runner   llama.cpp   runner/llama.cpp   range runner | llama.cpp");
for (const t of [1, 2]) {
    const s = speed[t];
    out(`  prefill                  ${t}    ${f1(s.rPre).padStart(6)}   ${f1(s.lPre).padStart(9)}   ${f2(s.rPre / s.lPre).padStart(16)}` +
        `   ${mm(s.range.rPre)} | ${mm(s.range.lPre)}`);
    out(`  decode                   ${t}    ${f1(s.rDec).padStart(6)}   ${f1(s.lDec).padStart(9)}   ${f2(s.rDec / s.lDec).padStart(16)}` +
        `   ${mm(s.range.rDec)} | ${mm(s.range.lDec)}`);
}
out();
out("decode vs memory bandwidth  threads   bytes/token   runner GB/s   membw read GB/s   share   bound tok/s");
for (const t of [1, 2]) {
    const s = speed[t], rate = (s.bytes * s.rDec) / 1e9, rd = bw[t].read_gbs;
    out(`  runner (--json weight bytes)   ${t}   ${(s.bytes / 1e6).toFixed(1).padStart(8)} MB   ${f2(rate).padStart(11)}   ` +
        `${f2(rd).padStart(15)}   ${(100 * rate / rd).toFixed(0).padStart(4)}%   ${f1(rd * 1e9 / s.bytes).padStart(11)}`);
    const lrate = (ggufBytes * s.lDec) / 1e9;
    out(`  llama.cpp (GGUF bytes, approx) ${t}   ${(ggufBytes / 1e6).toFixed(1).padStart(8)} MB   ${f2(lrate).padStart(11)}   ` +
        `${f2(rd).padStart(15)}   ${(100 * lrate / rd).toFixed(0).padStart(4)}%   ${f1(rd * 1e9 / ggufBytes).padStart(11)}`);
}
out(`  membw (1 GiB, median of ${bw[1].read_runs.length}): read ${f2(bw[1].read_gbs)} / ${f2(bw[2].read_gbs)} GB/s, ` +
    `memcpy ${f2(bw[1].copy_gbs)} / ${f2(bw[2].copy_gbs)} GB/s copied at 1 / 2 threads`);
out();

const catS = median(read("cat.txt").trim().split("\n").map(Number));
const cpS = median(read("cp.txt").trim().split("\n").map(Number));
const catGbs = insp.file_bytes / catS / 1e9, cpGbs = insp.file_bytes / cpS / 1e9;
out("peers (same process tree)                         rate      ratio");
for (const t of [1, 2]) {
    const rate = (speed[t].bytes * speed[t].rDec) / 1e9;
    out(`  runner weight streaming, ${t} thread(s)       ${f2(rate).padStart(7)} GB/s   ${f2(rate / catGbs)} x cat`);
}
out(`  cat model.trit > /dev/null (page cache)     ${f2(catGbs).padStart(7)} GB/s`);
out(`  cp model.trit (page cache -> new file)      ${f2(cpGbs).padStart(7)} GB/s`);
const ub = json("unitbench.json");
const z = read("zstd.txt").match(/\(x([\d.]+)\),\s*([\d.]+) MB\/s,\s*([\d.]+) MB\/s/);
out(`  expert units, trit_reader_unit_read         ${f1(ub.decode_mbs).padStart(7)} MB/s decoded (${ub.units} units of ` +
    `${(ub.max_unit / 1e6).toFixed(2)} MB, ratio x${f2(ub.decoded_bytes / ub.stored_bytes)}; pread + xxh3 + zstd)`);
if (z) {
    out(`  zstd -b1 -B<unit> on the decoded units      ${f1(Number(z[3])).padStart(7)} MB/s decompression ` +
        `(x${z[1]}, compression ${z[2]} MB/s)   trit/zstd ${f2(ub.decode_mbs / Number(z[3]))}`);
} else {
    out("  zstd -b: no result line parsed");
}
out();
const ids = promptIds.split(","), idText = `${ids[0]},...,${ids[ids.length - 1]}`;
out(`commands (in build/bench; T = 1, 2; ${runs} rounds of the first two, interleaved; warm-up runs not counted)`);
out(`  trit run model.trit --tokens ${idText} -n ${nGen} --ignore-eos --threads T --json --stats`);
out(`  node llama_bench.mjs model.tq2.gguf T ${idText} ${nGen} 1`);
out("  membw T;  unitbench moe.trit units.bin 5;  " + zstdCmd);
out("  cat model.trit > /dev/null;  cp model.trit copy.tmp     (x 3)");
out(`elapsed ${elapsed} s`);
console.log(lines.join("\n"));
