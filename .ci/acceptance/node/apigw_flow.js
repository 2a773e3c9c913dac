"use strict";
// API Gateway keys through the Node SDK: CreateApiKey with Tags (auto and
// manual), DescribeApiKey, Disable/Enable, UpdateApiKey, DescribeApiKeysStatus,
// DeleteApiKey.
// KP_CFG: { port, signMethod?, reqMethod?, root: {secretId, secretKey}, name, tags, manualId, manualSecret, newSecret }
const { cfg, apigw, call, outcome, main } = require("./lib");

main(async () => {
  const out = {};
  const c = apigw(cfg.root);

  out.auto = await call(c, "CreateApiKey", { SecretName: cfg.name, AccessKeyType: "auto", Tags: cfg.tags });
  const autoId = out.auto.Result.AccessKeyId;
  out.describeAuto = await call(c, "DescribeApiKey", { AccessKeyId: autoId });

  out.disable = await call(c, "DisableApiKey", { AccessKeyId: autoId });
  out.describeDisabled = await call(c, "DescribeApiKey", { AccessKeyId: autoId });
  out.enable = await call(c, "EnableApiKey", { AccessKeyId: autoId });
  out.describeEnabled = await call(c, "DescribeApiKey", { AccessKeyId: autoId });
  out.rotateAuto = await call(c, "UpdateApiKey", { AccessKeyId: autoId });

  out.manual = await call(c, "CreateApiKey", {
    SecretName: cfg.name + "-m",
    AccessKeyType: "manual",
    AccessKeyId: cfg.manualId,
    AccessKeySecret: cfg.manualSecret,
    Tags: cfg.tags,
  });
  out.updateManual = await call(c, "UpdateApiKey", { AccessKeyId: cfg.manualId, AccessKeySecret: cfg.newSecret });
  out.status = await call(c, "DescribeApiKeysStatus", {
    Limit: 10,
    Offset: 0,
    Filters: [{ Name: "KeyWord", Values: [cfg.name] }],
  });

  out.deleteAuto = await call(c, "DeleteApiKey", { AccessKeyId: autoId });
  out.deleteManual = await call(c, "DeleteApiKey", { AccessKeyId: cfg.manualId });
  out.describeDeleted = await outcome(() => c.DescribeApiKey({ AccessKeyId: autoId }));
  return out;
});
