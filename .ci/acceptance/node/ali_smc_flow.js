"use strict";
// SMC 2019-06-01 activation codes through @alicloud/pop-core's RPCClient.
// KP_CFG: { port, method, root: {accessKeyId, accessKeySecret}, sub: {accessKeyId, accessKeySecret}, name,
//           description }
const { cfg, rpc, call, outcome, main, SMC } = require("./ali_lib");

main(async () => {
  const out = {};
  const root = rpc(cfg.root, SMC);
  out.created = await call(root, "CreateAccessToken", { Name: cfg.name, Description: cfg.description, Count: "2", TimeToLiveInDays: "7" });
  out.defaults = await call(root, "CreateAccessToken", { Name: cfg.name });
  const ids = [out.created.AccessTokenId, out.defaults.AccessTokenId];
  out.listByIds = await call(root, "ListAccessTokens", { AccessTokenId: ids });
  out.listByName = await call(root, "ListAccessTokens", { Name: cfg.name });
  out.disable = await call(root, "DisableAccessToken", { AccessTokenId: ids[0] });
  out.listExpired = await call(root, "ListAccessTokens", { AccessTokenId: ids, Status: "expired" });
  out.listUnactivated = await call(root, "ListAccessTokens", { AccessTokenId: ids, Status: "unactivated" });
  out.invalidCount = await outcome(root, "CreateAccessToken", { Name: cfg.name, Count: "0" });
  out.invalidName = await outcome(root, "CreateAccessToken", { Name: "https://example" });
  out.invalidDays = await outcome(root, "CreateAccessToken", { Name: cfg.name, TimeToLiveInDays: "91" });
  out.noPermission = await outcome(rpc(cfg.sub, SMC), "CreateAccessToken", { Name: cfg.name });
  for (const id of ids) {
    await call(root, "DeleteAccessToken", { AccessTokenId: id });
  }
  out.deleteAgain = await outcome(root, "DeleteAccessToken", { AccessTokenId: ids[0] });
  out.listAfterDelete = await call(root, "ListAccessTokens", { Name: cfg.name });
  return out;
});
