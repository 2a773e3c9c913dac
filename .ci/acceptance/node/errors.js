"use strict";
// Error paths through the Node SDK: each entry is the outcome {ok, code, ...}.
// KP_CFG: { port, signMethod?, reqMethod?, root: {secretId, secretKey, uin}, user: {uin, secretId, secretKey},
//           otherUin, unknownUin, unknownSecretId, dupId }
const { cfg, cam, apigw, common, call, outcome, main } = require("./lib");

main(async () => {
  const out = {};
  const root = cam(cfg.root);
  const wrong = { secretId: cfg.root.secretId, secretKey: "X" + cfg.root.secretKey.slice(1) };
  if (wrong.secretKey === cfg.root.secretKey) wrong.secretKey = "Y" + cfg.root.secretKey.slice(1);

  out.signatureFailure = await outcome(() => cam(wrong).ListAccessKeys({}));
  out.secretIdNotFound = await outcome(() =>
    cam({ secretId: cfg.unknownSecretId, secretKey: "x".repeat(32) }).ListAccessKeys({}),
  );
  out.userNotExist = await outcome(() => root.CreateAccessKey({ TargetUin: cfg.unknownUin }));
  out.invalidAction = await outcome(() => common(cfg.root, "2019-01-16").request("FrobnicateAccessKeys", {}));
  out.noSuchVersion = await outcome(() => common(cfg.root, "2099-01-01").request("ListAccessKeys", {}));
  out.unknownParameter = await outcome(() => root.ListAccessKeys({ Bogus: 1 }));
  out.missingParameter = await outcome(() =>
    root.UpdateAccessKey({ AccessKeyId: cfg.user.secretId, TargetUin: cfg.user.uin }),
  );
  out.invalidParameterValue = await outcome(() =>
    root.UpdateAccessKey({ AccessKeyId: cfg.user.secretId, Status: "Sleeping", TargetUin: cfg.user.uin }),
  );

  const sub = cam(cfg.user);
  out.subUin = await outcome(() => sub.CreateAccessKey({ TargetUin: cfg.root.uin }));
  out.subListRoot = await outcome(() => sub.ListAccessKeys({ TargetUin: cfg.root.uin }));
  out.subListOther = await outcome(() => sub.ListAccessKeys({ TargetUin: cfg.otherUin }));
  out.subApiGateway = await outcome(() => apigw(cfg.user).CreateApiKey({ SecretName: "sub-no" }));

  const g = apigw(cfg.root);
  out.formatError = await outcome(() =>
    g.CreateApiKey({ SecretName: "fmt", AccessKeyType: "manual", AccessKeyId: "bad-id", AccessKeySecret: "Secret_0123" }),
  );
  await call(g, "CreateApiKey", {
    SecretName: "dup",
    AccessKeyType: "manual",
    AccessKeyId: cfg.dupId,
    AccessKeySecret: "Dup_secret_01",
  });
  out.accessKeyExist = await outcome(() =>
    g.CreateApiKey({ SecretName: "dup2", AccessKeyType: "manual", AccessKeyId: cfg.dupId, AccessKeySecret: "Dup_secret_02" }),
  );
  await call(g, "DeleteApiKey", { AccessKeyId: cfg.dupId });
  out.notFound = await outcome(() => g.DescribeApiKey({ AccessKeyId: cfg.dupId }));
  return out;
});
