"use strict";
// CAM create / list / update / delete through the Node SDK.
// KP_CFG: { port, signMethod?, reqMethod?, root: {secretId, secretKey}, targetUin, description }
const { cfg, cam, call, outcome, main } = require("./lib");

main(async () => {
  const out = {};
  const root = cam(cfg.root);
  const target = cfg.targetUin;

  const created = await call(root, "CreateAccessKey", { TargetUin: target, Description: cfg.description });
  out.created = created;
  const id = created.AccessKey.AccessKeyId;
  const sub = cam({ secretId: id, secretKey: created.AccessKey.SecretAccessKey });

  out.listAfterCreate = await call(root, "ListAccessKeys", { TargetUin: target });
  out.subListOwn = await call(sub, "ListAccessKeys", {});

  out.deactivate = await call(root, "UpdateAccessKey", { AccessKeyId: id, Status: "Inactive", TargetUin: target });
  out.listAfterDeactivate = await call(root, "ListAccessKeys", { TargetUin: target });
  out.useWhileInactive = await outcome(() => sub.ListAccessKeys({}));

  out.activate = await call(root, "UpdateAccessKey", { AccessKeyId: id, Status: "Active", TargetUin: target });
  out.useAfterReactivate = await outcome(() => sub.ListAccessKeys({}));

  out.delete = await call(root, "DeleteAccessKey", { AccessKeyId: id, TargetUin: target });
  out.listAfterDelete = await call(root, "ListAccessKeys", { TargetUin: target });
  out.useAfterDelete = await outcome(() => sub.ListAccessKeys({}));

  out.lastUsed = await call(root, "GetSecurityLastUsed", { SecretIdList: [cfg.root.secretId] });
  return out;
});
