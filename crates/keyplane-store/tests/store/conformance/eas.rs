//! Conformance cases for the PAI-EAS registry and instance tokens: services and instances round
//! trip exactly (command templates word for word, workers in order) and are scoped to their
//! account and cluster; an instance needs its service; deleting a service takes its instances;
//! tokens round trip, burn exactly once (also under concurrency), refuse a wrong purpose, an
//! unknown hash, a used or an expired token without changing anything; a colliding batch of
//! tokens stores none; expired tokens are forgotten.

use keyplane_core::store::{EasInstanceName, EasServiceName, TokenRedemption};
use std::sync::Arc;

use keyplane_core::model::{EasInstance, EasService, InstanceToken, InstanceTokenPurpose};
use keyplane_core::store::{Store, StoreError};
use keyplane_core::template::CommandTemplate;

use crate::support::{
    at, audit_event, audit_log, audit_summary, initialize, success, ACCOUNT_ID, OTHER_ACCOUNT_ID,
};

fn service(cluster: &str, name: &str) -> EasService {
    EasService {
        account_id: ACCOUNT_ID,
        cluster: cluster.to_owned(),
        name: name.to_owned(),
        exec_template: CommandTemplate::parse(
            "kubectl exec -it {instance} -c {worker} -- sh -c 'echo \"{{x}}\"; exec /bin/sh'",
        )
        .unwrap(),
        log_template: CommandTemplate::parse("kubectl logs -f {instance} ''").unwrap(),
        created_at: at(5),
    }
}

fn instance(cluster: &str, service: &str, name: &str, workers: &[&str]) -> EasInstance {
    EasInstance {
        account_id: ACCOUNT_ID,
        cluster: cluster.to_owned(),
        service: service.to_owned(),
        name: name.to_owned(),
        workers: workers.iter().map(|worker| (*worker).to_owned()).collect(),
        created_at: at(6),
    }
}

fn token(hash_seed: u8, grant_id: &str, purpose: InstanceTokenPurpose) -> InstanceToken {
    InstanceToken {
        token_hash: vec![0x00, 0xff, hash_seed, 0x7f, 0x80],
        grant_id: grant_id.to_owned(),
        purpose,
        account_id: ACCOUNT_ID,
        principal_uin: ACCOUNT_ID,
        key_id: "LTAI00000000000000000042".to_owned(),
        cluster: "cn-hangzhou".to_owned(),
        service: "my_service".to_owned(),
        instance: "my-service-5d8f-abcde".to_owned(),
        worker: "worker1".to_owned(),
        created_at: at(10),
        expires_at: at(310),
        used_at: None,
    }
}

/// The three tokens of one grant, hashes seeded from `seed`.
fn grant(seed: u8, grant_id: &str) -> Vec<InstanceToken> {
    InstanceTokenPurpose::ALL
        .iter()
        .enumerate()
        .map(|(index, purpose)| token(seed.wrapping_add(index as u8), grant_id, *purpose))
        .collect()
}

async fn create_service(store: &dyn Store, service: &EasService) {
    store
        .create_eas_service(
            service.clone(),
            audit_event("CreateEasService", &service.name),
        )
        .await
        .expect("creating a service");
}

async fn add_instance(
    store: &dyn Store,
    instance: &EasInstance,
) -> Result<EasInstance, StoreError> {
    store
        .add_eas_instance(
            instance.clone(),
            audit_event("AddEasInstance", &instance.name),
        )
        .await
}

async fn issue(store: &dyn Store, tokens: &[InstanceToken]) -> Result<(), StoreError> {
    store
        .create_instance_tokens(
            tokens.to_vec(),
            audit_event("CreateServiceInstanceToken", &tokens[0].grant_id),
        )
        .await
}

async fn burn(
    store: &dyn Store,
    token: &InstanceToken,
    purpose: InstanceTokenPurpose,
    seconds: i64,
) -> Result<InstanceToken, StoreError> {
    store
        .burn_instance_token(
            TokenRedemption::new(&token.token_hash, purpose, at(seconds)),
            audit_event(purpose.redemption_action(), &token.grant_id),
        )
        .await
}

pub async fn eas_services_round_trip_and_are_scoped_to_their_account(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let shanghai = service("cn-shanghai", "svc");
    let hangzhou_b = service("cn-hangzhou", "b-service");
    let hangzhou_a = service("cn-hangzhou", "a.service");
    for created in [&shanghai, &hangzhou_b, &hangzhou_a] {
        create_service(store.as_ref(), created).await;
    }
    assert_eq!(
        store
            .eas_service(ACCOUNT_ID, "cn-shanghai", "svc")
            .await
            .unwrap(),
        Some(shanghai.clone())
    );
    // The same name in another cluster is another service.
    assert_eq!(
        store
            .eas_service(ACCOUNT_ID, "cn-hangzhou", "svc")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .eas_service(OTHER_ACCOUNT_ID, "cn-shanghai", "svc")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.list_eas_services(ACCOUNT_ID).await.unwrap(),
        vec![hangzhou_a, hangzhou_b, shanghai.clone()]
    );
    assert!(store
        .list_eas_services(OTHER_ACCOUNT_ID)
        .await
        .unwrap()
        .is_empty());
    let stored = store
        .eas_service(ACCOUNT_ID, "cn-shanghai", "svc")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.exec_template.words(),
        [
            "kubectl",
            "exec",
            "-it",
            "{instance}",
            "-c",
            "{worker}",
            "--",
            "sh",
            "-c",
            "echo \"{{x}}\"; exec /bin/sh"
        ]
    );
    assert_eq!(
        stored.log_template.words(),
        ["kubectl", "logs", "-f", "{instance}", ""]
    );
    let before = audit_log(store.as_ref()).await.len();
    let duplicate = store
        .create_eas_service(
            service("cn-shanghai", "svc"),
            audit_event("CreateEasService", "svc"),
        )
        .await;
    assert_eq!(duplicate.unwrap_err(), StoreError::EasServiceAlreadyExists);
    assert_eq!(audit_log(store.as_ref()).await.len(), before);
}

pub async fn eas_instances_belong_to_a_registered_service(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let orphan = instance("cn-hangzhou", "missing", "pod-1", &["worker0"]);
    assert_eq!(
        add_instance(store.as_ref(), &orphan).await.unwrap_err(),
        StoreError::EasServiceNotFound
    );
    create_service(store.as_ref(), &service("cn-hangzhou", "svc")).await;
    let second = instance(
        "cn-hangzhou",
        "svc",
        "pod-2",
        &["worker1", "worker0", "sidecar"],
    );
    let first = instance("cn-hangzhou", "svc", "pod-1", &["worker0"]);
    assert_eq!(
        add_instance(store.as_ref(), &second).await.unwrap(),
        second.clone()
    );
    add_instance(store.as_ref(), &first).await.unwrap();
    assert_eq!(
        add_instance(store.as_ref(), &first).await.unwrap_err(),
        StoreError::EasInstanceAlreadyExists
    );
    assert_eq!(
        store
            .eas_instance(EasInstanceName::new(
                ACCOUNT_ID,
                "cn-hangzhou",
                "svc",
                "pod-2"
            ))
            .await
            .unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store
            .eas_instance(EasInstanceName::new(
                ACCOUNT_ID,
                "cn-shanghai",
                "svc",
                "pod-2"
            ))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .eas_instance(EasInstanceName::new(
                OTHER_ACCOUNT_ID,
                "cn-hangzhou",
                "svc",
                "pod-2"
            ))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .list_eas_instances(ACCOUNT_ID, "cn-hangzhou", "svc")
            .await
            .unwrap(),
        vec![first, second]
    );
    let summary = audit_summary(&audit_log(store.as_ref()).await);
    assert_eq!(
        summary,
        [
            success("CreateEasService", "svc"),
            success("AddEasInstance", "pod-2"),
            success("AddEasInstance", "pod-1"),
        ]
    );
}

pub async fn deleting_an_eas_service_removes_its_instances(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    create_service(store.as_ref(), &service("cn-hangzhou", "svc")).await;
    create_service(store.as_ref(), &service("cn-hangzhou", "kept")).await;
    add_instance(
        store.as_ref(),
        &instance("cn-hangzhou", "svc", "pod-1", &["w"]),
    )
    .await
    .unwrap();
    add_instance(
        store.as_ref(),
        &instance("cn-hangzhou", "svc", "pod-2", &["w"]),
    )
    .await
    .unwrap();
    let kept = instance("cn-hangzhou", "kept", "pod-1", &["w"]);
    add_instance(store.as_ref(), &kept).await.unwrap();
    let removal = |name: &str| audit_event("RemoveEasInstance", name);
    assert_eq!(
        store
            .remove_eas_instance(
                EasInstanceName::new(ACCOUNT_ID, "cn-hangzhou", "svc", "pod-9"),
                removal("pod-9")
            )
            .await
            .unwrap_err(),
        StoreError::EasInstanceNotFound
    );
    store
        .remove_eas_instance(
            EasInstanceName::new(ACCOUNT_ID, "cn-hangzhou", "svc", "pod-2"),
            removal("pod-2"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .eas_instance(EasInstanceName::new(
                ACCOUNT_ID,
                "cn-hangzhou",
                "svc",
                "pod-2"
            ))
            .await
            .unwrap(),
        None
    );
    let deletion = || audit_event("DeleteEasService", "svc");
    assert_eq!(
        store
            .delete_eas_service(
                EasServiceName::new(OTHER_ACCOUNT_ID, "cn-hangzhou", "svc"),
                deletion()
            )
            .await
            .unwrap_err(),
        StoreError::EasServiceNotFound
    );
    store
        .delete_eas_service(
            EasServiceName::new(ACCOUNT_ID, "cn-hangzhou", "svc"),
            deletion(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .eas_service(ACCOUNT_ID, "cn-hangzhou", "svc")
            .await
            .unwrap(),
        None
    );
    assert!(store
        .list_eas_instances(ACCOUNT_ID, "cn-hangzhou", "svc")
        .await
        .unwrap()
        .is_empty());
    // Registering the service again does not bring its instances back.
    create_service(store.as_ref(), &service("cn-hangzhou", "svc")).await;
    assert!(store
        .list_eas_instances(ACCOUNT_ID, "cn-hangzhou", "svc")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .list_eas_instances(ACCOUNT_ID, "cn-hangzhou", "kept")
            .await
            .unwrap(),
        vec![kept]
    );
    store
        .delete_eas_service(
            EasServiceName::new(ACCOUNT_ID, "cn-hangzhou", "svc"),
            deletion(),
        )
        .await
        .unwrap();
    let summary = audit_summary(&audit_log(store.as_ref()).await);
    assert_eq!(
        summary[summary.len() - 4..],
        [
            success("RemoveEasInstance", "pod-2"),
            success("DeleteEasService", "svc"),
            success("CreateEasService", "svc"),
            success("DeleteEasService", "svc"),
        ]
    );
}

pub async fn instance_tokens_round_trip_and_burn_once(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let tokens = grant(1, "eit-roundtrip0000000000");
    issue(store.as_ref(), &tokens).await.unwrap();
    for stored in &tokens {
        assert_eq!(
            store.instance_token(&stored.token_hash).await.unwrap(),
            Some(stored.clone())
        );
    }
    let terminal = &tokens[1];
    assert_eq!(terminal.purpose, InstanceTokenPurpose::Terminal);
    let burned = burn(
        store.as_ref(),
        terminal,
        InstanceTokenPurpose::Terminal,
        309,
    )
    .await
    .unwrap();
    let mut expected = terminal.clone();
    expected.used_at = Some(at(309));
    assert_eq!(burned, expected);
    assert_eq!(
        store.instance_token(&terminal.token_hash).await.unwrap(),
        Some(expected)
    );
    assert_eq!(
        burn(
            store.as_ref(),
            terminal,
            InstanceTokenPurpose::Terminal,
            309
        )
        .await
        .unwrap_err(),
        StoreError::InstanceTokenUsed
    );
    // The other tokens of the grant are untouched: each URL is single-use on its own.
    for other in [&tokens[0], &tokens[2]] {
        assert_eq!(
            store
                .instance_token(&other.token_hash)
                .await
                .unwrap()
                .unwrap()
                .used_at,
            None
        );
    }
    burn(
        store.as_ref(),
        &tokens[2],
        InstanceTokenPurpose::Streamlog,
        20,
    )
    .await
    .unwrap();
    let summary = audit_summary(&audit_log(store.as_ref()).await);
    assert_eq!(
        summary,
        [
            success("CreateServiceInstanceToken", "eit-roundtrip0000000000"),
            success("OpenTerminal", "eit-roundtrip0000000000"),
            success("OpenStreamlog", "eit-roundtrip0000000000"),
        ]
    );
}

pub async fn refused_token_burns_change_nothing(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let tokens = grant(40, "eit-refused000000000000");
    issue(store.as_ref(), &tokens).await.unwrap();
    let workbench = &tokens[0];
    let audit_before = audit_log(store.as_ref()).await.len();
    // A token presented for another purpose is not found, and stays usable.
    for wrong in [
        InstanceTokenPurpose::Terminal,
        InstanceTokenPurpose::Streamlog,
    ] {
        assert_eq!(
            burn(store.as_ref(), workbench, wrong, 20)
                .await
                .unwrap_err(),
            StoreError::InstanceTokenNotFound
        );
    }
    let unknown = token(
        200,
        "eit-unknown000000000000",
        InstanceTokenPurpose::Workbench,
    );
    assert_eq!(
        burn(
            store.as_ref(),
            &unknown,
            InstanceTokenPurpose::Workbench,
            20
        )
        .await
        .unwrap_err(),
        StoreError::InstanceTokenNotFound
    );
    // Expired at the expiry instant and after; not consumed by the attempt.
    for seconds in [310, 10_000] {
        assert_eq!(
            burn(
                store.as_ref(),
                workbench,
                InstanceTokenPurpose::Workbench,
                seconds
            )
            .await
            .unwrap_err(),
            StoreError::InstanceTokenExpired
        );
    }
    assert_eq!(
        store
            .instance_token(&workbench.token_hash)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );
    assert_eq!(audit_log(store.as_ref()).await.len(), audit_before);
    // Still redeemable inside its lifetime, once.
    burn(
        store.as_ref(),
        workbench,
        InstanceTokenPurpose::Workbench,
        11,
    )
    .await
    .unwrap();
    assert_eq!(
        burn(
            store.as_ref(),
            workbench,
            InstanceTokenPurpose::Workbench,
            12
        )
        .await
        .unwrap_err(),
        StoreError::InstanceTokenUsed
    );
    assert_eq!(audit_log(store.as_ref()).await.len(), audit_before + 1);
}

pub async fn colliding_instance_tokens_store_nothing(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let first = grant(60, "eit-first00000000000000");
    issue(store.as_ref(), &first).await.unwrap();
    let audit_before = audit_log(store.as_ref()).await.len();
    // Same hash as an existing token in the last position: the earlier two are undone too.
    let mut colliding_hash = grant(90, "eit-second0000000000000");
    colliding_hash[2].token_hash = first[0].token_hash.clone();
    assert_eq!(
        issue(store.as_ref(), &colliding_hash).await.unwrap_err(),
        StoreError::IdentifierTaken
    );
    // Same grant and purpose as an existing token, with new hashes.
    let colliding_grant = grant(120, "eit-first00000000000000");
    assert_eq!(
        issue(store.as_ref(), &colliding_grant).await.unwrap_err(),
        StoreError::IdentifierTaken
    );
    for refused in colliding_hash[..2].iter().chain(&colliding_grant) {
        assert_eq!(
            store.instance_token(&refused.token_hash).await.unwrap(),
            None
        );
    }
    assert_eq!(
        store.instance_token(&first[0].token_hash).await.unwrap(),
        Some(first[0].clone())
    );
    assert_eq!(audit_log(store.as_ref()).await.len(), audit_before);
}

pub async fn concurrent_burns_of_one_token_succeed_once(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let tokens = grant(150, "eit-concurrent000000000");
    issue(store.as_ref(), &tokens).await.unwrap();
    let attempts = (0..40).map(|attempt| {
        let store = Arc::clone(&store);
        let token = tokens[0].clone();
        tokio::spawn(async move {
            burn(
                store.as_ref(),
                &token,
                InstanceTokenPurpose::Workbench,
                20 + attempt,
            )
            .await
        })
    });
    let mut burned = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => burned += 1,
            Err(StoreError::InstanceTokenUsed) => {}
            Err(error) => panic!("unexpected burn failure: {error}"),
        }
    }
    assert_eq!(burned, 1);
    let redemptions = audit_summary(&audit_log(store.as_ref()).await)
        .into_iter()
        .filter(|(action, _, _)| action == "OpenWorkbench")
        .count();
    assert_eq!(redemptions, 1);
}

pub async fn expired_instance_tokens_are_forgotten(store: Arc<dyn Store>) {
    initialize(store.as_ref()).await;
    let mut early = grant(180, "eit-early00000000000000");
    let mut late = grant(210, "eit-late000000000000000");
    for token in &mut early {
        token.expires_at = at(100);
    }
    for token in &mut late {
        token.expires_at = at(101);
    }
    issue(store.as_ref(), &early).await.unwrap();
    issue(store.as_ref(), &late).await.unwrap();
    burn(
        store.as_ref(),
        &early[0],
        InstanceTokenPurpose::Workbench,
        50,
    )
    .await
    .unwrap();
    assert_eq!(
        store.forget_expired_instance_tokens(at(99)).await.unwrap(),
        0
    );
    assert_eq!(
        store.forget_expired_instance_tokens(at(100)).await.unwrap(),
        3
    );
    for token in &early {
        assert_eq!(store.instance_token(&token.token_hash).await.unwrap(), None);
    }
    for token in &late {
        assert_eq!(
            store.instance_token(&token.token_hash).await.unwrap(),
            Some(token.clone())
        );
    }
}
