// The client of `actorc lsp`: starts the server (the `actorc.path` setting, `actorc` on the
// PATH by default) for .stat files and restarts it when the setting changes. Plain
// JavaScript, no build step: `npm install` in this folder, then load the folder as an
// extension (docs/editor.md).
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function start() {
  const command = vscode.workspace.getConfiguration("actorc").get("path") || "actorc";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "actorc",
    "actorc",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "stat" }] }
  );
  return client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("actorc.path")) {
        if (client) await client.stop();
        await start();
      }
    })
  );
  await start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
