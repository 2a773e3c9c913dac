"use strict";
// Shared helpers for the Node scripts driven by test_tencent_node.py.
//
// Input: the JSON object in the KP_CFG environment variable
//   { port, signMethod?, reqMethod?, root: {secretId, secretKey}, ... }
// Output: exactly one JSON line on stdout:
//   { ok: true,  result: {...}, responses: [{action, response}] }   or
//   { ok: false, error: {message, code, stack}, responses: [...] }  (exit code 1)
// `responses` carries every successful reply so that the Python side can
// collect the secrets for the secrets-at-rest checks.

const tencentcloud = require("tencentcloud-sdk-nodejs");
const { CommonClient } = require("tencentcloud-sdk-nodejs/tencentcloud/common/common_client");

const cfg = JSON.parse(process.env.KP_CFG || "{}");
const responses = [];

function profile() {
  return {
    signMethod: cfg.signMethod || "TC3-HMAC-SHA256",
    httpProfile: {
      endpoint: `127.0.0.1:${cfg.port}`,
      protocol: "http://", // note the "://" (protocols.md A.6)
      reqMethod: cfg.reqMethod || "POST",
      reqTimeout: 60,
    },
  };
}

function credential(c) {
  return { secretId: c.secretId, secretKey: c.secretKey };
}

function cam(c) {
  return new tencentcloud.cam.v20190116.Client({ credential: credential(c), region: "", profile: profile() });
}

function apigw(c) {
  return new tencentcloud.apigateway.v20180808.Client({
    credential: credential(c),
    region: "ap-guangzhou",
    profile: profile(),
  });
}

function common(c, version, region) {
  return new CommonClient(`127.0.0.1:${cfg.port}`, version, {
    credential: credential(c),
    region: region || "",
    profile: profile(),
  });
}

// Call client[action](req); record the reply.
async function call(client, action, req) {
  const r = await client[action](req);
  responses.push({ action, response: r });
  return r;
}

// Run an async function that is expected to fail; describe the outcome.
async function outcome(fn) {
  try {
    const r = await fn();
    responses.push({ action: "outcome", response: r });
    return { ok: true, response: r };
  } catch (e) {
    return {
      ok: false,
      code: e.code === undefined ? null : e.code,
      message: String(e.message),
      requestId: e.requestId || null,
      httpCode: e.httpCode === undefined ? null : e.httpCode,
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

module.exports = { cfg, cam, apigw, common, call, outcome, main };
