// compare.mjs - compare two logits JSON files (logits.mjs output or a ref-logits fixture).
//
//   node compare.mjs LABEL A.json B.json TOL
//
// Prints one line: PASS|FAIL, the label, max |a - b| over the vocabulary, the tolerance, and
// both argmaxes. Exit 0 when the vectors have the same length, max |a - b| <= TOL and the
// argmax agrees; else 1.
import fs from "node:fs";

const [label, fa, fb, tolArg] = process.argv.slice(2);
const tol = Number(tolArg);
if (!label || !fa || !fb || !Number.isFinite(tol)) {
    console.error("usage: node compare.mjs LABEL A.json B.json TOL");
    process.exit(2);
}
const a = JSON.parse(fs.readFileSync(fa, "utf8")).logits;
const b = JSON.parse(fs.readFileSync(fb, "utf8")).logits;
const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
let diff = Infinity;
if (a.length === b.length) {
    diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
}
const ok = a.length === b.length && diff <= tol && argmax(a) === argmax(b);
console.log(`${ok ? "PASS" : "FAIL"}  ${label}: max|dlogit| ${diff.toExponential(3)} (tol ${tol}), ` +
            `argmax ${argmax(a)} vs ${argmax(b)}, n_vocab ${a.length}/${b.length}`);
process.exit(ok ? 0 : 1);
