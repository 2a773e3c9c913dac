//! PAI-EAS in-process, over a real SQLite store and the production credential factory, with the
//! clock set per request: every captured `CreateServiceInstanceToken` vector (ACS3 and ROA v1;
//! the tea, legacy-core and pop-core clients) authenticates through the full pipeline at its
//! own time and gets three URLs on the configured public base; a replay is refused (also for
//! the legacy client that sends no nonce); the 15-minute window holds; one changed byte of the
//! path, query, a signed header or the signature is refused. Then the registry's errors, the
//! `ActionType` rule, percent-encoded paths, the root-only rule, and the tokens themselves:
//! each redeemable once, at its own URL only, until it expires, giving the expanded command;
//! audited; never stored in clear.

use keyplane_engine::{Headers, RequestView};
use std::sync::Arc;

use keyplane_aliyun::eas::{token_from_query, PublicUrls, RedemptionRefusal, TokenPresentation};
use keyplane_aliyun::{AliyunDialect, IncomingRequest, OutgoingResponse};
use keyplane_core::authority::{NewEasInstanceRequest, NewEasServiceRequest};
use keyplane_core::model::{InstanceSession, InstanceTokenPurpose, KeyFamily};
use keyplane_core::store::traits::*;
use keyplane_core::{Authority, AuthorityConfig, RequestContext};
use keyplane_crypto::aliyun::{
    acs3_hashed_payload, parse_http_date, parse_iso8601_timestamp, sign_acs3,
};
use keyplane_testkit::in_process::{dialect_config, InProcess};
use keyplane_testkit::mutation::{byte_mutants, signed_header_mutants};
use keyplane_testkit::vectors;
use serde_json::Value;
use time::OffsetDateTime;

/// The account and root key every captured Alibaba vector was signed for.
const VECTOR_ACCOUNT: u64 = vectors::ALIYUN.account_id;
const VECTOR_KEY_ID: &str = vectors::ALIYUN.key_id;
const VECTOR_SECRET: &str = vectors::ALIYUN.secret;
/// A sub-user's key.
const ALICE_UIN: u64 = vectors::ALIYUN_USER_UIN;
const ALICE_KEY_ID: &str = "LTAI5tFakeAccessKeyId0002";
const ALICE_SECRET: &str = "FakeAccessKeySecret00000000002";
/// What the vectors name.
const CLUSTER: &str = "cn-hangzhou";
const SERVICE: &str = "my_service";
const INSTANCE: &str = "my-service-5d8f-abcde";
const TOKEN_PATH: &str =
    "/api/v2/services/cn-hangzhou/my_service/instances/my-service-5d8f-abcde/token";
const PUBLIC_URL: &str = "https://keyplane.example.test:8443/prefix";
const TTL_SECONDS: i64 = 300;
/// A time inside every vector's window, for requests signed here.
const SIGNING_TIME: OffsetDateTime = time::macros::datetime!(2026-11-24 02:40:00 UTC);

struct Harness {
    dialect: AliyunDialect,
    authority: Arc<Authority>,
    in_process: InProcess,
}

async fn harness() -> Harness {
    let start = time::macros::datetime!(2026-11-24 00:00:00 UTC);
    let in_process = InProcess::start(AuthorityConfig {
        instance_token_ttl: time::Duration::seconds(TTL_SECONDS),
        ..dialect_config()
    });
    in_process
        .seed_vector_account(&vectors::ALIYUN, start)
        .await;
    in_process
        .seed_user(VECTOR_ACCOUNT, ALICE_UIN, "alice", start, "setup")
        .await;
    let operator = |action: &str| RequestContext::operator(start, "setup".to_owned(), action);
    in_process
        .store
        .create_access_key_within_quota(
            in_process.access_key(
                VECTOR_ACCOUNT,
                ALICE_UIN,
                KeyFamily::Aliyun,
                ALICE_KEY_ID,
                ALICE_SECRET,
                start,
            ),
            2,
            operator("CreateAccessKey").audit_event(None, "Success"),
        )
        .await
        .unwrap();
    let authority = in_process.authority.clone();
    authority
        .create_eas_service(
            &operator("CreateEasService"),
            VECTOR_ACCOUNT,
            NewEasServiceRequest {
                cluster: CLUSTER.to_owned(),
                name: SERVICE.to_owned(),
                exec_template: "kubectl exec -it {instance} -c {worker} -- /bin/sh".to_owned(),
                log_template:
                    "kubectl logs -f {instance} -c {worker} --prefix='{service}@{cluster}'"
                        .to_owned(),
            },
        )
        .await
        .unwrap();
    authority
        .add_eas_instance(
            &operator("AddEasInstance"),
            VECTOR_ACCOUNT,
            NewEasInstanceRequest {
                cluster: CLUSTER.to_owned(),
                service: SERVICE.to_owned(),
                name: INSTANCE.to_owned(),
                workers: vec!["worker0".to_owned(), "sidecar".to_owned()],
            },
        )
        .await
        .unwrap();
    Harness {
        dialect: AliyunDialect::new(authority.clone(), PublicUrls::new(PUBLIC_URL).unwrap()),
        authority,
        in_process,
    }
}

/// One request: a captured vector or one signed here.
#[derive(Clone)]
struct Vector {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    /// The headers whose values the signature covers (besides `Authorization`).
    signed_headers: Vec<String>,
}

impl Vector {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The time the request was signed at.
    fn signed_at(&self) -> OffsetDateTime {
        let seconds = match self.header("x-acs-date") {
            Some(date) => parse_iso8601_timestamp(date).unwrap(),
            None => parse_http_date(self.header("date").expect("a ROA v1 Date")).unwrap(),
        };
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }
}

/// The headers a ROA v1 signature covers: the four standard ones and every `x-acs-*`.
fn roa_v1_signed_headers(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| {
            name.starts_with("x-acs-")
                || ["accept", "content-md5", "content-type", "date"].contains(&name.as_str())
        })
        .collect()
}

/// Every signed EAS vector in `vectors/`.
fn eas_vectors() -> Vec<Vector> {
    let directory = vectors::directory();
    let mut vectors = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let file = entry.unwrap().path();
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        if document["operation"]["product"] != "eas"
            || document["credentials"]["access_key_id"] != VECTOR_KEY_ID
        {
            continue;
        }
        let request = &document["request"];
        let target = request["target"].as_str().unwrap();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers: Vec<(String, String)> =
            keyplane_testkit::vectors::header_pairs(&request["headers"]);
        let authorization = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.clone())
            .unwrap();
        let signed_headers = match authorization.split("SignedHeaders=").nth(1) {
            Some(rest) => rest
                .split(',')
                .next()
                .unwrap()
                .split(';')
                .map(str::to_owned)
                .collect(),
            None => roa_v1_signed_headers(&headers),
        };
        assert_eq!(request["body"], "", "{}", file.display());
        vectors.push(Vector {
            name: document["name"].as_str().unwrap().to_owned(),
            method: request["method"].as_str().unwrap().to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            signed_headers,
        });
    }
    vectors.sort_by(|left, right| left.name.cmp(&right.name));
    vectors
}

/// A GET signed here with ACS3 as the tea SDKs sign it; `nonce: None` leaves it out.
fn acs3_request(
    path: &str,
    query: &str,
    key_id: &str,
    secret: &str,
    nonce: Option<&str>,
    extra_headers: &[(&str, &str)],
) -> Vector {
    let date = SIGNING_TIME
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let fresh_nonce = format!("{:032x}", rand::random::<u128>());
    let mut headers: Vec<(String, String)> = vec![
        ("host".to_owned(), "127.0.0.1:18080".to_owned()),
        ("x-acs-version".to_owned(), "2021-07-01".to_owned()),
        (
            "x-acs-action".to_owned(),
            "CreateServiceInstanceToken".to_owned(),
        ),
        ("x-acs-date".to_owned(), date),
        ("x-acs-content-sha256".to_owned(), acs3_hashed_payload(b"")),
    ];
    if let Some(nonce) = nonce {
        let nonce = if nonce.is_empty() {
            fresh_nonce.as_str()
        } else {
            nonce
        };
        headers.push(("x-acs-signature-nonce".to_owned(), nonce.to_owned()));
    }
    for (name, value) in extra_headers {
        match headers.iter_mut().find(|(header, _)| header == name) {
            Some(existing) => existing.1 = (*value).to_owned(),
            None => headers.push(((*name).to_owned(), (*value).to_owned())),
        }
    }
    let signed_headers: Vec<String> = headers.iter().map(|(name, _)| name.clone()).collect();
    let borrowed = keyplane_testkit::signing::borrowed(&headers);
    let authorization = sign_acs3(
        &RequestView {
            method: "GET",
            path,
            raw_query: query,
            headers: Headers::new(&borrowed),
            body: b"",
        },
        key_id,
        &signed_headers,
        secret.as_bytes(),
    );
    headers.push(("authorization".to_owned(), authorization));
    Vector {
        name: format!("signed here: {path}?{query}"),
        method: "GET".to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        signed_headers,
    }
}

/// An ACS3 GET of the vectors' path by the root, with a fresh nonce.
fn root_request(path: &str, query: &str) -> Vector {
    acs3_request(path, query, VECTOR_KEY_ID, VECTOR_SECRET, Some(""), &[])
}

async fn send(harness: &Harness, vector: &Vector, now: OffsetDateTime) -> OutgoingResponse {
    let headers = keyplane_testkit::signing::borrowed(&vector.headers);
    let request = IncomingRequest {
        method: &vector.method,
        path: &vector.path,
        raw_query: &vector.query,
        headers: &headers,
        body: b"",
        source_address: "192.0.2.44",
        now,
    };
    let response = harness.dialect.handle_eas(request).await;
    assert_eq!(response.content_type, "application/json;charset=utf-8");
    response
}

fn json(response: &OutgoingResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

/// The error code of an answer, checking the error shape on the way.
fn code_of(response: &OutgoingResponse) -> Option<String> {
    let body = json(response);
    let code = body["Code"].as_str().map(str::to_owned)?;
    assert!(response.status >= 400, "{body}");
    assert_eq!(body["HostId"], "pai-eas.aliyuncs.com", "{body}");
    assert!(body["Message"]
        .as_str()
        .is_some_and(|text| !text.is_empty()));
    assert_eq!(
        body["RequestId"].as_str(),
        Some(response.request_id.as_str())
    );
    assert!(
        body["Recommend"]
            .as_str()
            .unwrap()
            .contains(&format!("q={code}&product=eas")),
        "{body}"
    );
    Some(code)
}

/// The status and code of a refused answer.
fn refusal(response: &OutgoingResponse) -> (u16, String) {
    let code = code_of(response).unwrap_or_else(|| panic!("not refused: {}", json(response)));
    (response.status, code)
}

/// The tokens of a successful answer, after checking its shape: `(workbench, terminal,
/// streamlog)`.
fn tokens_of(response: &OutgoingResponse) -> (String, String, String) {
    let body = json(response);
    assert_eq!(response.status, 200, "{body}");
    assert!(body.get("Code").is_none(), "{body}");
    assert_eq!(
        body["RequestId"].as_str(),
        Some(response.request_id.as_str())
    );
    let object = body.as_object().unwrap();
    let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["RequestId", "StreamlogUrl", "Token", "Url", "WorkbenchUrl"]
    );
    let token_in = |field: &str, prefix: &str| {
        let url = body[field].as_str().unwrap();
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, prefix, "{field}: {url}");
        let token = token_from_query(query).unwrap();
        assert_eq!(query, format!("token={token}"));
        assert_eq!(token.len(), 43, "{token}");
        assert!(token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'));
        token
    };
    let workbench = token_in(
        "WorkbenchUrl",
        "https://keyplane.example.test:8443/prefix/eas/workbench",
    );
    let terminal = token_in(
        "Url",
        "wss://keyplane.example.test:8443/prefix/eas/v1/terminal",
    );
    let streamlog = token_in(
        "StreamlogUrl",
        "wss://keyplane.example.test:8443/prefix/eas/v1/streamlog",
    );
    assert_eq!(body["Token"], terminal.as_str());
    assert!(workbench != terminal && terminal != streamlog && workbench != streamlog);
    (workbench, terminal, streamlog)
}

async fn redeem(
    harness: &Harness,
    purpose: InstanceTokenPurpose,
    token: &str,
    now: OffsetDateTime,
) -> Result<InstanceSession, RedemptionRefusal> {
    harness
        .dialect
        .redeem_instance_token(TokenPresentation {
            purpose,
            token,
            source_address: "198.51.100.9",
            user_agent: "terminal-gateway-test",
            now,
        })
        .await
}

fn refused_with(result: Result<InstanceSession, RedemptionRefusal>) -> (u16, &'static str) {
    let refusal = result.expect_err("the redemption must be refused");
    assert!(!refusal.request_id.is_empty());
    (refusal.error.status(), refusal.error.code.code())
}

const SIGNATURE_CODES: &[&str] = &[
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidTimeStamp.Format",
    "InvalidTimeStamp.Expired",
    "InvalidAccessKeyId.NotFound",
    "InvalidSignatureMethod",
    "InvalidSignatureVersion",
    "MissingParameter",
    "InvalidVersion",
    "InvalidAction.NotFound",
];

#[tokio::test]
async fn every_eas_vector_gets_its_tokens_once_and_not_after_a_replay() {
    let vectors = eas_vectors();
    let names: Vec<&str> = vectors.iter().map(|vector| vector.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ali_eas_CreateServiceInstanceToken_acs3",
            "ali_eas_CreateServiceInstanceToken_roa_v1",
            "alicore_eas_CreateServiceInstanceToken_roa_v1",
            "alinode_eas_CreateServiceInstanceToken_acs3_generic",
            "alinode_eas_CreateServiceInstanceToken_roa_v1_generic",
            "alinode_popcore_eas_CreateServiceInstanceToken_roa_v1",
        ]
    );
    for vector in &vectors {
        let harness = harness().await;
        let now = vector.signed_at();
        let response = send(&harness, vector, now).await;
        let (workbench, _, _) = tokens_of(&response);
        let session = redeem(&harness, InstanceTokenPurpose::Workbench, &workbench, now)
            .await
            .unwrap_or_else(|refusal| panic!("{}: {:?}", vector.name, refusal.error));
        assert_eq!(
            (session.worker.as_str(), session.key_id.as_str()),
            ("worker0", VECTOR_KEY_ID),
            "{}",
            vector.name
        );
        let replay = send(&harness, vector, now).await;
        assert_eq!(
            refusal(&replay),
            (400, "SignatureNonceUsed".to_owned()),
            "{}",
            vector.name
        );
    }
}

#[tokio::test]
async fn the_fifteen_minute_window_holds_in_both_directions() {
    for vector in eas_vectors() {
        let signed_at = vector.signed_at();
        for offset in [-901, 901, -900, 900] {
            let harness = harness().await;
            let response = send(
                &harness,
                &vector,
                signed_at + time::Duration::seconds(offset),
            )
            .await;
            if offset.abs() > 900 {
                assert_eq!(
                    refusal(&response),
                    (400, "InvalidTimeStamp.Expired".to_owned()),
                    "{} at {offset}",
                    vector.name
                );
            } else {
                assert_eq!(response.status, 200, "{} at {offset}", vector.name);
            }
        }
    }
}

#[tokio::test]
async fn one_changed_byte_of_the_path_query_a_signed_header_or_the_signature_is_refused() {
    let harness = harness().await;
    let mut refused = 0;
    for vector in eas_vectors() {
        let now = vector.signed_at();
        let mut mutants = Vec::new();
        for path in byte_mutants(&vector.path) {
            mutants.push(Vector {
                path,
                ..vector.clone()
            });
        }
        for query in byte_mutants(&vector.query) {
            mutants.push(Vector {
                query,
                ..vector.clone()
            });
        }
        for headers in signed_header_mutants(&vector.headers, &vector.signed_headers) {
            mutants.push(Vector {
                headers,
                ..vector.clone()
            });
        }
        for mutant in mutants {
            let response = send(&harness, &mutant, now).await;
            let code = code_of(&response);
            assert!(
                code.as_deref()
                    .is_some_and(|code| SIGNATURE_CODES.contains(&code)),
                "{}: a one-byte change was answered {code:?}: {} (path {}, query {})",
                vector.name,
                String::from_utf8_lossy(&response.body),
                mutant.path,
                mutant.query,
            );
            refused += 1;
        }
    }
    assert!(refused > 2000, "only {refused} mutants");
    // Nothing was issued: every original still succeeds once.
    for vector in eas_vectors() {
        let response = send(&harness, &vector, vector.signed_at()).await;
        tokens_of(&response);
    }
}

#[tokio::test]
async fn unknown_names_a_wrong_action_type_and_malformed_requests_are_refused() {
    let harness = harness().await;
    let now = SIGNING_TIME;
    let path_of = |cluster: &str, service: &str, instance: &str| {
        format!("/api/v2/services/{cluster}/{service}/instances/{instance}/token")
    };
    for (path, query, expected) in [
        (
            path_of(CLUSTER, "other_service", INSTANCE),
            "WorkerName=worker0",
            (404, "InvalidService.NotFound"),
        ),
        (
            path_of("cn-shanghai", SERVICE, INSTANCE),
            "",
            (404, "InvalidService.NotFound"),
        ),
        (
            path_of(CLUSTER, "my%20service", INSTANCE),
            "",
            (404, "InvalidService.NotFound"),
        ),
        (
            path_of(CLUSTER, SERVICE, "my-service-0000-zzzzz"),
            "",
            (404, "InvalidInstance.NotFound"),
        ),
        (
            TOKEN_PATH.to_owned(),
            "WorkerName=worker9",
            (404, "InvalidWorker.NotFound"),
        ),
        (
            TOKEN_PATH.to_owned(),
            "WorkerName=worker0&ActionType=Shell",
            (400, "InvalidParameter"),
        ),
        (
            TOKEN_PATH.to_owned(),
            "ActionType=workbench",
            (400, "InvalidParameter"),
        ),
        (
            path_of(CLUSTER, "my%FFservice", INSTANCE),
            "",
            (400, "InvalidParameter"),
        ),
        (
            "/api/v2/services/cn-hangzhou/my_service".to_owned(),
            "",
            (404, "InvalidAction.NotFound"),
        ),
        (
            path_of(CLUSTER, SERVICE, INSTANCE).replace("/token", "/tokens"),
            "",
            (404, "InvalidAction.NotFound"),
        ),
        (
            path_of(CLUSTER, "", INSTANCE),
            "",
            (404, "InvalidAction.NotFound"),
        ),
    ] {
        let response = send(&harness, &root_request(&path, query), now).await;
        assert_eq!(
            refusal(&response),
            (expected.0, expected.1.to_owned()),
            "{path}?{query}"
        );
    }

    // A sub-user with no policy allowing eas:CreateServiceInstanceToken is refused, as EAS
    // refuses: Forbidden.RAM.
    let alice = acs3_request(TOKEN_PATH, "", ALICE_KEY_ID, ALICE_SECRET, Some(""), &[]);
    assert_eq!(
        refusal(&send(&harness, &alice, now).await),
        (403, "Forbidden.RAM".to_owned())
    );
    // ACS3 requires a nonce.
    let no_nonce = acs3_request(TOKEN_PATH, "", VECTOR_KEY_ID, VECTOR_SECRET, None, &[]);
    assert_eq!(
        refusal(&send(&harness, &no_nonce, now).await),
        (400, "MissingParameter".to_owned())
    );
    // Another action or version on this path.
    for (header, status, code) in [
        (
            ("x-acs-action", "DescribeService"),
            404,
            "InvalidAction.NotFound",
        ),
        (("x-acs-version", "2019-06-01"), 400, "InvalidVersion"),
    ] {
        let request = acs3_request(
            TOKEN_PATH,
            "",
            VECTOR_KEY_ID,
            VECTOR_SECRET,
            Some(""),
            &[header],
        );
        assert_eq!(
            refusal(&send(&harness, &request, now).await),
            (status, code.to_owned()),
            "{header:?}"
        );
    }
    let mut unsigned = root_request(TOKEN_PATH, "");
    unsigned
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
    assert_eq!(
        refusal(&send(&harness, &unsigned, now).await),
        (400, "IncompleteSignature".to_owned())
    );
    let mut bearer = root_request(TOKEN_PATH, "");
    bearer.headers.last_mut().unwrap().1 = "Bearer abc".to_owned();
    assert_eq!(
        refusal(&send(&harness, &bearer, now).await),
        (400, "IncompleteSignature".to_owned())
    );
    let mut post = root_request(TOKEN_PATH, "");
    post.method = "POST".to_owned();
    assert_eq!(
        refusal(&send(&harness, &post, now).await),
        (400, "UnsupportedHTTPMethod".to_owned())
    );
    // A security token (Keyplane issues no STS credentials), signed like the SDKs sign it.
    let sts = acs3_request(
        TOKEN_PATH,
        "",
        VECTOR_KEY_ID,
        VECTOR_SECRET,
        Some(""),
        &[("x-acs-security-token", "CAIS-fake")],
    );
    assert_eq!(
        refusal(&send(&harness, &sts, now).await),
        (400, "InvalidSecurityToken.MismatchWithAccessKey".to_owned())
    );

    // Refusals after routing are audited with their code and the key the request claimed.
    harness.authority.flush().await.unwrap();
    let records = harness.authority.audit_records(0, 10_000).await.unwrap();
    let refused: Vec<_> = records
        .iter()
        .filter(|record| record.event.action == "CreateServiceInstanceToken")
        .map(|record| {
            (
                record.event.outcome.as_str(),
                record.event.key_id.as_deref(),
                record.event.product.as_str(),
            )
        })
        .collect();
    assert!(refused.contains(&("InvalidWorker.NotFound", Some(VECTOR_KEY_ID), "eas")));
    assert!(refused.contains(&("Forbidden.RAM", Some(ALICE_KEY_ID), "eas")));
    // The refusal records the decision: no statement allowed it.
    let denied = records
        .iter()
        .find(|record| record.event.key_id.as_deref() == Some(ALICE_KEY_ID))
        .unwrap();
    let authorization = denied.event.authorization.as_ref().unwrap();
    assert_eq!(authorization.decision, "ImplicitDeny");
    assert_eq!(authorization.statement, None);
    assert!(refused.contains(&("InvalidParameter", Some(VECTOR_KEY_ID), "eas")));
    assert!(!refused
        .iter()
        .any(|(outcome, _, _)| *outcome == "InvalidAction.NotFound"));
}

#[tokio::test]
async fn names_are_looked_up_percent_decoded_and_the_default_worker_is_the_first() {
    let harness = harness().await;
    let now = SIGNING_TIME;
    // Every character of the names percent-encoded: the signature covers the raw path.
    let encoded =
        |name: &str| -> String { name.bytes().map(|byte| format!("%{byte:02X}")).collect() };
    let path = format!(
        "/api/v2/services/{}/{}/instances/{}/token",
        encoded(CLUSTER),
        encoded(SERVICE),
        encoded(INSTANCE)
    );
    let response = send(&harness, &root_request(&path, "ActionType=WorkBench"), now).await;
    let (_, terminal, streamlog) = tokens_of(&response);
    let session = redeem(&harness, InstanceTokenPurpose::Terminal, &terminal, now)
        .await
        .unwrap();
    assert_eq!(
        (
            session.cluster.as_str(),
            session.service.as_str(),
            session.instance.as_str(),
            session.worker.as_str()
        ),
        (CLUSTER, SERVICE, INSTANCE, "worker0")
    );
    let response = send(
        &harness,
        &root_request(TOKEN_PATH, "WorkerName=sidecar&RegionId=cn-hangzhou"),
        now,
    )
    .await;
    let (_, _, sidecar_log) = tokens_of(&response);
    let session = redeem(&harness, InstanceTokenPurpose::Streamlog, &sidecar_log, now)
        .await
        .unwrap();
    assert_eq!(
        session.command,
        [
            "kubectl",
            "logs",
            "-f",
            INSTANCE,
            "-c",
            "sidecar",
            "--prefix=my_service@cn-hangzhou"
        ]
    );
    let first_log = redeem(&harness, InstanceTokenPurpose::Streamlog, &streamlog, now)
        .await
        .unwrap();
    assert_eq!(first_log.worker, "worker0");
}

#[tokio::test]
async fn each_token_opens_its_own_url_once_until_it_expires() {
    let harness = harness().await;
    let issued_at = SIGNING_TIME;
    let response = send(
        &harness,
        &root_request(TOKEN_PATH, "WorkerName=worker0"),
        issued_at,
    )
    .await;
    let (workbench, terminal, streamlog) = tokens_of(&response);

    // Presented at another URL: not valid there, and not consumed.
    assert_eq!(
        refused_with(
            redeem(
                &harness,
                InstanceTokenPurpose::Terminal,
                &workbench,
                issued_at
            )
            .await
        ),
        (401, "InvalidInstanceToken")
    );
    assert_eq!(
        refused_with(
            redeem(
                &harness,
                InstanceTokenPurpose::Streamlog,
                &terminal,
                issued_at
            )
            .await
        ),
        (401, "InvalidInstanceToken")
    );
    let later = issued_at + time::Duration::seconds(TTL_SECONDS - 1);
    let session = redeem(&harness, InstanceTokenPurpose::Workbench, &workbench, later)
        .await
        .unwrap();
    assert_eq!(
        session,
        InstanceSession {
            grant_id: session.grant_id.clone(),
            purpose: InstanceTokenPurpose::Workbench,
            account_id: VECTOR_ACCOUNT,
            principal_uin: VECTOR_ACCOUNT,
            key_id: VECTOR_KEY_ID.to_owned(),
            cluster: CLUSTER.to_owned(),
            service: SERVICE.to_owned(),
            instance: INSTANCE.to_owned(),
            worker: "worker0".to_owned(),
            command: ["kubectl", "exec", "-it", INSTANCE, "-c", "worker0", "--", "/bin/sh"]
                .map(str::to_owned)
                .to_vec(),
            token_expires_at: issued_at + time::Duration::seconds(TTL_SECONDS),
        }
    );
    assert!(session.grant_id.starts_with("eit-") && session.grant_id.len() == 24);
    assert_eq!(
        refused_with(redeem(&harness, InstanceTokenPurpose::Workbench, &workbench, later).await),
        (403, "InstanceToken.AlreadyUsed")
    );
    // The terminal token is single-use on its own: still good after the workbench was opened.
    let terminal_session = redeem(&harness, InstanceTokenPurpose::Terminal, &terminal, later)
        .await
        .unwrap();
    assert_eq!(terminal_session.command, session.command);
    assert_eq!(terminal_session.grant_id, session.grant_id);
    // The streamlog token at its expiry instant.
    let expiry = issued_at + time::Duration::seconds(TTL_SECONDS);
    assert_eq!(
        refused_with(
            redeem(
                &harness,
                InstanceTokenPurpose::Streamlog,
                &streamlog,
                expiry
            )
            .await
        ),
        (403, "InstanceToken.Expired")
    );
    for garbage in [
        "",
        "not a token",
        "../../etc/passwd",
        &"A".repeat(43),
        &"x".repeat(200),
    ] {
        assert_eq!(
            refused_with(redeem(&harness, InstanceTokenPurpose::Terminal, garbage, later).await),
            (401, "InvalidInstanceToken"),
            "{garbage:?}"
        );
    }

    // Issue and redemptions are audited, attributed to the principal and key that asked;
    // refusals carry their code.
    harness.authority.flush().await.unwrap();
    let records = harness.authority.audit_records(0, 10_000).await.unwrap();
    let target = format!(
        "{CLUSTER}/{SERVICE}/{INSTANCE}/worker0/{}",
        session.grant_id
    );
    let events: Vec<_> = records
        .iter()
        .filter(|record| record.event.product == "eas")
        .map(|record| {
            (
                record.event.action.as_str(),
                record.event.outcome.as_str(),
                record.event.target.as_deref(),
                record.event.key_id.as_deref(),
                record.event.principal_uin,
            )
        })
        .collect();
    let root = Some(VECTOR_ACCOUNT);
    for expected in [
        (
            "CreateServiceInstanceToken",
            "Success",
            Some(target.as_str()),
            Some(VECTOR_KEY_ID),
            root,
        ),
        (
            "OpenWorkbench",
            "Success",
            Some(target.as_str()),
            Some(VECTOR_KEY_ID),
            root,
        ),
        (
            "OpenTerminal",
            "Success",
            Some(target.as_str()),
            Some(VECTOR_KEY_ID),
            root,
        ),
        (
            "OpenWorkbench",
            "InstanceToken.AlreadyUsed",
            None,
            None,
            None,
        ),
        ("OpenStreamlog", "InstanceToken.Expired", None, None, None),
        ("OpenTerminal", "InvalidInstanceToken", None, None, None),
    ] {
        assert!(
            events.contains(&expected),
            "{expected:?} not in {events:#?}"
        );
    }

    // No token is stored, or audited, in clear.
    harness.authority.flush().await.unwrap();
    let audit_text = format!("{records:?}");
    for token in [&workbench, &terminal, &streamlog] {
        assert!(!audit_text.contains(token.as_str()));
        super::support::assert_nothing_holds_in_clear(
            harness.in_process.directory.path(),
            token,
            "a token",
        );
    }
}

#[tokio::test]
async fn a_token_opens_nothing_once_its_worker_is_gone() {
    let harness = harness().await;
    let now = SIGNING_TIME;
    let (workbench, _, _) = tokens_of(&send(&harness, &root_request(TOKEN_PATH, ""), now).await);
    harness
        .authority
        .remove_eas_instance(
            &RequestContext::operator(now, "remove".to_owned(), "RemoveEasInstance"),
            VECTOR_ACCOUNT,
            CLUSTER,
            SERVICE,
            INSTANCE,
        )
        .await
        .unwrap();
    assert_eq!(
        refused_with(redeem(&harness, InstanceTokenPurpose::Workbench, &workbench, now).await),
        (404, "InvalidInstance.NotFound")
    );
    assert_eq!(
        refusal(&send(&harness, &root_request(TOKEN_PATH, ""), now).await),
        (404, "InvalidInstance.NotFound".to_owned())
    );
}

#[tokio::test]
async fn tokens_are_removed_a_day_after_they_expire() {
    let harness = harness().await;
    let issued_at = SIGNING_TIME;
    let (workbench, _, _) =
        tokens_of(&send(&harness, &root_request(TOKEN_PATH, ""), issued_at).await);
    let expiry = issued_at + time::Duration::seconds(TTL_SECONDS);
    let kept_until = expiry + keyplane_core::authority::INSTANCE_TOKEN_RETENTION;
    let authority = &harness.authority;
    let expire = |now| async move { authority.expire_instance_tokens(now).await.unwrap() };
    let late = || async {
        refused_with(
            redeem(
                &harness,
                InstanceTokenPurpose::Workbench,
                &workbench,
                kept_until,
            )
            .await,
        )
    };
    assert_eq!(expire(kept_until - time::Duration::seconds(1)).await, 0);
    // Until then a late presentation is told the token expired.
    assert_eq!(late().await, (403, "InstanceToken.Expired"));
    assert_eq!(expire(kept_until).await, 3);
    assert_eq!(late().await, (401, "InvalidInstanceToken"));
}
