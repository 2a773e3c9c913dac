"use strict";
// Shared helpers for the @alicloud/pop-core scripts driven by test_aliyun_node.py.
//
// Input: the JSON object in the KP_CFG environment variable
//   { port, method: "POST" | "GET", root: {accessKeyId, accessKeySecret}, ... }
// Output: exactly one JSON line on stdout, as node/lib.js does:
//   { ok: true,  result: {...}, responses: [{action, status, response}] }   or
//   { ok: false, error: {message, code, stack}, responses: [...] }          (exit code 1)
// Every reply (success or error) is in `responses` with its HTTP status, so
// that the Python side can check the Alibaba envelope of each and collect the
// secrets for the secrets-at-rest checks.

const RPCClient = require("@alicloud/pop-core").RPCClient;

const cfg = JSON.parse(process.env.KP_CFG || "{}");
const responses = [];

// An RPC client for one API version; verbose so that the HTTP status is known.
function rpc(cred, apiVersion) {
  return new RPCClient(
    {
      accessKeyId: cred.accessKeyId,
      accessKeySecret: cred.accessKeySecret,
      endpoint: `http://127.0.0.1:${cfg.port}`,
      apiVersion,
    },
    true,
  );
}

const IMS = "2019-08-15";
const SMC = "2019-06-01";

function opts() {
  return { method: cfg.method || "POST", timeout: 60000 };
}

// A call that must succeed: the reply body.
async function call(client, action, params) {
  const [body, entry] = await client.request(action, params || {}, opts());
  responses.push({ action, status: entry.response.statusCode, response: body });
  return body;
}

// A call expected to fail: {ok, name, code, status, data} (pop-core names its errors `<Code>Error`).
async function outcome(client, action, params) {
  try {
    const [body, entry] = await client.request(action, params || {}, opts());
    responses.push({ action, status: entry.response.statusCode, response: body });
    return { ok: true, status: entry.response.statusCode, response: body };
  } catch (e) {
    const status = e.entry && e.entry.response ? e.entry.response.statusCode : null;
    if (e.data) responses.push({ action, status, response: e.data });
    return {
      ok: false,
      name: e.name,
      code: e.code === undefined ? null : e.code,
      status,
      data: e.data || null,
      message: String(e.message),
    };
  }
}

function main(fn) {
  fn().then(
    (result) => {
      process.stdout.write(JSON.stringify({ ok: true, result, responses }) + "\n");
    },
    (err) => {
      process.stdout.write(
        JSON.stringify({
          ok: false,
          error: {
            message: String(err && err.message),
            code: err && err.code !== undefined ? err.code : null,
            stack: err && err.stack ? String(err.stack) : null,
          },
          responses,
        }) + "\n",
      );
      process.exitCode = 1;
    },
  );
}

module.exports = { cfg, rpc, call, outcome, main, IMS, SMC };
