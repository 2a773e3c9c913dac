"use strict";
// IMS 2019-08-15 through @alicloud/pop-core's RPCClient (RPC v1; with method POST
// the parameters travel in an application/x-www-form-urlencoded body).
// KP_CFG: { port, method, root: {accessKeyId, accessKeySecret}, principal, otherPrincipal,
//           unknownPrincipal, unknownKeyId }
const { cfg, rpc, call, outcome, main, IMS } = require("./ali_lib");

main(async () => {
  const out = {};
  const root = rpc(cfg.root, IMS);
  const upn = { UserPrincipalName: cfg.principal };

  out.created = await call(root, "CreateAccessKey", upn);
  const k = out.created.AccessKey;
  out.listForUser = await call(root, "ListAccessKeys", upn);
  const sub = rpc({ accessKeyId: k.AccessKeyId, accessKeySecret: k.AccessKeySecret }, IMS);
  out.subListOwn = await call(sub, "ListAccessKeys", {});

  out.deactivate = await call(root, "UpdateAccessKey", { UserAccessKeyId: k.AccessKeyId, Status: "Inactive", ...upn });
  out.useWhileInactive = await outcome(sub, "ListAccessKeys", {});
  await call(root, "UpdateAccessKey", { UserAccessKeyId: k.AccessKeyId, Status: "Active", ...upn });
  out.useAfterReactivate = await outcome(sub, "ListAccessKeys", {});

  // the sub-user's own second key (no UserPrincipalName = the caller), then the limit of two
  out.ownSecond = await call(sub, "CreateAccessKey", {});
  out.third = await outcome(root, "CreateAccessKey", upn);
  out.lastUsed = await call(root, "GetAccessKeyLastUsed", { UserAccessKeyId: k.AccessKeyId, ...upn });

  out.unknownUser = await outcome(root, "CreateAccessKey", { UserPrincipalName: cfg.unknownPrincipal });
  out.noPermission = await outcome(sub, "ListAccessKeys", { UserPrincipalName: cfg.otherPrincipal });
  out.missingParameter = await outcome(root, "UpdateAccessKey", { UserAccessKeyId: k.AccessKeyId, ...upn });
  out.invalidParameter = await outcome(root, "UpdateAccessKey", { UserAccessKeyId: k.AccessKeyId, Status: "Asleep", ...upn });
  out.signatureMismatch = await outcome(
    rpc({ accessKeyId: cfg.root.accessKeyId, accessKeySecret: (cfg.root.accessKeySecret[0] === "W" ? "V" : "W") + cfg.root.accessKeySecret.slice(1) }, IMS),
    "ListAccessKeys",
    {},
  );
  out.unknownKey = await outcome(rpc({ accessKeyId: cfg.unknownKeyId, accessKeySecret: "x".repeat(30) }, IMS), "ListAccessKeys", {});
  out.unknownAction = await outcome(root, "FrobnicateAccessKeys", {});

  await call(sub, "DeleteAccessKey", { UserAccessKeyId: out.ownSecond.AccessKey.AccessKeyId });
  out.delete = await call(root, "DeleteAccessKey", { UserAccessKeyId: k.AccessKeyId, ...upn });
  out.useAfterDelete = await outcome(sub, "ListAccessKeys", {});
  out.listAfterDelete = await call(root, "ListAccessKeys", upn);
  return out;
});
