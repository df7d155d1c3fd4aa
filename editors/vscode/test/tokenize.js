// Tokenizes rule files with the extension's TextMate grammar (vscode-textmate and
// vscode-oniguruma, as VS Code does) and fails when a line has a character that no scope
// of the grammar covers, an `invalid.*` scope appears, or a sample line does not get the
// scopes it should. Usage: node test/tokenize.js [FILE_OR_FOLDER…] (default: the
// repository's rules/ and docs/examples/).
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const here = __dirname;
const repo = path.resolve(here, "..", "..", "..");

function statFiles(p) {
  const st = fs.statSync(p);
  if (st.isFile()) return p.endsWith(".stat") ? [p] : [];
  return fs.readdirSync(p).sort().flatMap((n) => statFiles(path.join(p, n)));
}

async function grammar() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (s) => new oniguruma.OnigScanner(s),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      if (scope !== "source.stat") return null;
      const file = path.join(here, "..", "syntaxes", "stat.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  return registry.loadGrammar("source.stat");
}

// [text, scopes] of every token of `text`.
function tokenize(g, text) {
  let stack = vsctm.INITIAL;
  const out = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const r = g.tokenizeLine(line, stack);
    for (const t of r.tokens) {
      out.push({ line: i + 1, text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes });
    }
    stack = r.ruleStack;
  });
  return out;
}

// Problems of one text: uncovered characters and invalid scopes.
function problems(g, text, name) {
  const found = [];
  for (const t of tokenize(g, text)) {
    const inner = t.scopes.slice(1);
    if (t.text.trim() !== "" && inner.length === 0) {
      found.push(`${name}:${t.line}: no scope for ${JSON.stringify(t.text)}`);
    }
    for (const s of inner.filter((s) => s.startsWith("invalid"))) {
      found.push(`${name}:${t.line}: ${s} on ${JSON.stringify(t.text)}`);
    }
  }
  return found;
}

// Lines and the scope each listed word must have (its innermost scope starts with it).
const SAMPLES = [
  ["derived hp = 1e3 + level * 2 // note", { derived: "storage.type", hp: "entity.name.variable", "1e3": "constant.numeric", level: "variable.other", "// note": "comment.line.double-slash" }],
  ["/// A doc comment.", { "/// A doc comment.": "comment.line.documentation" }],
  ["primary luck in 0 .. 100 default 5;", { in: "keyword.other.clause", "..": "keyword.operator.range", default: "keyword.other.clause", ";": "punctuation.terminator" }],
  ["derived a = 2 ^ 3 % 2 and not b or c;", { "^": "keyword.operator.arithmetic", "%": "keyword.operator.arithmetic", and: "keyword.operator.logical", not: "keyword.operator.logical", or: "keyword.operator.logical" }],
  ["derived c = if a >= 1 then clamp(a, 0, 1) else lookup(t, 2);", { if: "keyword.control", ">=": "keyword.operator.comparison", then: "keyword.control", clamp: "support.function.builtin", lookup: "support.function.builtin" }],
  ["bucket MULT fold delta_product apply value * x;", { bucket: "storage.type", MULT: "entity.name.type.bucket", fold: "keyword.other.clause", apply: "keyword.other.clause", value: "variable.language", x: "variable.language" }],
  ["stack frenzy limit 3 keep highest;", { stack: "storage.type", frenzy: "entity.name.type.stack", limit: "keyword.other.stack", keep: "keyword.other.stack", highest: "support.constant.keep" }],
  ["view fire_damage = damage with fire;", { view: "storage.type", fire_damage: "entity.name.variable.view", with: "keyword.other.with" }],
  ["tag group elemental = fire, cold;", { tag: "storage.type", group: "storage.type", elemental: "entity.name.type.tag-group" }],
  ["tag fire, cold;", { tag: "storage.type", fire: "entity.name.type.tag" }],
  ["const SCALE = 2.5;", { const: "storage.type", SCALE: "entity.name.constant" }],
  ["table bonus = [1: 10, 2: 20];", { table: "storage.type", bonus: "entity.name.constant", ":": "punctuation.separator.key-value" }],
  ["curve falloff = [0: 1, 10: 0];", { curve: "storage.type", falloff: "entity.name.constant" }],
  ['import "../actor_core_v3";', { import: "storage.type", '"../actor_core_v3"': "string.quoted.double" }],
  ["derived view = 1 pipeline gear;", { view: "entity.name.variable", pipeline: "storage.type", gear: "variable.other" }],
];

function checkSamples(g) {
  const found = [];
  for (const [line, want] of SAMPLES) {
    const tokens = tokenize(g, line);
    for (const [word, scope] of Object.entries(want)) {
      const t = tokens.find((t) => t.text.trim() === word);
      const got = t ? t.scopes[t.scopes.length - 1] : "(no token)";
      if (!got.startsWith(scope)) found.push(`sample ${JSON.stringify(line)}: ${word} is ${got}, not ${scope}`);
    }
  }
  return found;
}

async function main() {
  const g = await grammar();
  const args = process.argv.slice(2);
  const roots = args.length ? args : [path.join(repo, "rules"), path.join(repo, "docs", "examples")];
  const files = roots.flatMap(statFiles);
  let found = checkSamples(g);
  // Text that is not rules must show up as invalid: the check can fail.
  if (problems(g, "derived a = 1 $ 2;", "self-test").length === 0) found.push("self-test: `$` is not invalid");
  for (const f of files) found = found.concat(problems(g, fs.readFileSync(f, "utf8"), path.relative(repo, f)));
  if (found.length) {
    console.error(found.slice(0, 50).join("\n"));
    console.error(`${found.length} problem(s)`);
    process.exit(1);
  }
  console.log(`tokenized ${files.length} rule files and ${SAMPLES.length} sample lines: every character scoped, none invalid`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
