//! Aggregation of unauthenticated refusals (per source, claimed id and code per interval, with
//! the per-source and global caps) and the failed-authentication throttle, on explicit times.

use keyplane_core::audit::AuditEvent;
use keyplane_core::authentication_throttle::{AuthenticationFailureLimit, AuthenticationThrottle};
use keyplane_core::refusal_audit::{
    RefusalAggregator, AGGREGATES_PER_INTERVAL, AGGREGATES_PER_SOURCE, INTERVAL_SECONDS,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2026-11-24 10:00:00 UTC);

fn refusal(time: OffsetDateTime, source: &str, key_id: &str, outcome: &str) -> AuditEvent {
    AuditEvent {
        time,
        request_id: format!("request-{}", time.unix_timestamp_nanos()),
        account_id: None,
        principal_uin: None,
        key_id: Some(key_id.to_owned()),
        product: "cam".to_owned(),
        action: "ListUsers".to_owned(),
        target: None,
        outcome: outcome.to_owned(),
        source_address: source.to_owned(),
        user_agent: "attacker/1".to_owned(),
        detail: None,
        authorization: None,
    }
}

#[test]
fn repeated_refusals_become_one_aggregate_with_count_and_times() {
    let mut aggregator = RefusalAggregator::default();
    for index in 0..1_000 {
        let time = START + Duration::milliseconds(index * 10);
        aggregator.record(
            refusal(
                time,
                "192.0.2.1",
                "AKIDreal",
                "AuthFailure.SignatureFailure",
            ),
            true,
        );
    }
    let aggregates = aggregator.take_all();
    assert_eq!(aggregates.len(), 1);
    let event = aggregates.into_iter().next().unwrap().into_event(true);
    assert_eq!(event.key_id.as_deref(), Some("AKIDreal"));
    assert_eq!(event.outcome, "AuthFailure.SignatureFailure");
    assert_eq!(event.action, "ListUsers");
    assert_eq!(event.time, START);
    assert_eq!(
        event.detail.as_deref(),
        Some(
            "unauthenticated_refusals=1000 first=2026-11-24T10:00:00Z \
             last=2026-11-24T10:00:09.99Z"
        )
    );
    assert!(aggregator.take_all().is_empty(), "taken once");
}

#[test]
fn made_up_ids_collapse_beyond_the_per_source_cap_and_do_not_hide_a_real_key() {
    let mut aggregator = RefusalAggregator::default();
    for index in 0..1_000 {
        let made_up = format!("AKID{index:0>124}");
        aggregator.record(
            refusal(START, "192.0.2.1", &made_up, "AuthFailure.SecretIdNotFound"),
            false,
        );
    }
    for _ in 0..10 {
        aggregator.record(
            refusal(
                START,
                "192.0.2.1",
                "AKIDreal",
                "AuthFailure.SignatureFailure",
            ),
            true,
        );
    }
    let events: Vec<AuditEvent> = aggregator
        .take_all()
        .into_iter()
        .map(|aggregate| {
            let real = aggregate.claimed_key_id() == Some("AKIDreal");
            aggregate.into_event(real)
        })
        .collect();
    assert_eq!(events.len(), AGGREGATES_PER_SOURCE + 2);
    let collapsed = events
        .iter()
        .find(|event| event.key_id.as_deref() == Some("*"))
        .expect("one aggregate for the ids beyond the cap");
    assert!(collapsed.detail.as_deref().unwrap().starts_with(&format!(
        "unauthenticated_refusals={} ",
        1_000 - AGGREGATES_PER_SOURCE
    )));
    assert!(events
        .iter()
        .any(|event| event.key_id.as_deref() == Some("AKIDreal")
            && event
                .detail
                .as_deref()
                .unwrap()
                .starts_with("unauthenticated_refusals=10 ")));
    for event in &events {
        let key_id = event.key_id.as_deref().unwrap();
        assert!(
            key_id.len() <= 16,
            "a made-up id is stored shortened: {key_id}"
        );
    }
    assert!(events
        .iter()
        .any(|event| event.key_id.as_deref() == Some("unknown:AKID0000")));
}

#[test]
fn the_global_cap_ends_in_one_overflow_aggregate() {
    let mut aggregator = RefusalAggregator::default();
    for index in 0..10_000_u32 {
        let source = format!("10.{}.{}.{}", index >> 16, (index >> 8) & 255, index & 255);
        aggregator.record(
            refusal(START, &source, "x", "AuthFailure.SecretIdNotFound"),
            false,
        );
    }
    let events: Vec<AuditEvent> = aggregator
        .take_all()
        .into_iter()
        .map(|aggregate| aggregate.into_event(false))
        .collect();
    assert_eq!(events.len(), AGGREGATES_PER_INTERVAL + 1);
    let overflow = events
        .iter()
        .find(|event| event.source_address == "*")
        .expect("the overflow aggregate");
    assert_eq!(
        (overflow.key_id.as_deref(), overflow.outcome.as_str()),
        (Some("*"), "*")
    );
    assert!(overflow.detail.as_deref().unwrap().starts_with(&format!(
        "unauthenticated_refusals={} ",
        10_000 - AGGREGATES_PER_INTERVAL
    )));
}

#[test]
fn intervals_close_on_the_times_the_refusals_carry() {
    let mut aggregator = RefusalAggregator::default();
    let record = |aggregator: &mut RefusalAggregator, time| {
        aggregator.record(
            refusal(time, "192.0.2.1", "k", "AuthFailure.SecretIdNotFound"),
            false,
        )
    };
    record(&mut aggregator, START);
    record(&mut aggregator, START + Duration::seconds(30));
    assert!(aggregator
        .take_due(START + Duration::seconds(59))
        .is_empty());
    record(&mut aggregator, START + Duration::seconds(INTERVAL_SECONDS));
    let first = aggregator.take_due(START + Duration::seconds(INTERVAL_SECONDS));
    assert_eq!(first.len(), 1, "the first interval closed");
    assert!(first[0]
        .clone()
        .into_event(false)
        .detail
        .unwrap()
        .starts_with("unauthenticated_refusals=2 "));
    let second = aggregator.take_due(START + Duration::seconds(2 * INTERVAL_SECONDS));
    assert_eq!(second.len(), 1);
    aggregator.restore(second);
    assert_eq!(aggregator.take_all().len(), 1, "a failed write is kept");
}

#[test]
fn the_throttle_refuses_only_the_failing_address_after_its_burst() {
    let throttle = AuthenticationThrottle::new(AuthenticationFailureLimit {
        per_second: 10,
        burst: 5,
    });
    assert!(!throttle.throttled("192.0.2.1", START));
    for _ in 0..5 {
        throttle.record_failure("192.0.2.1", START);
    }
    assert!(throttle.throttled("192.0.2.1", START));
    assert!(throttle.throttled("::ffff:192.0.2.1", START), "IPv4-mapped");
    assert!(!throttle.throttled("192.0.2.2", START), "another address");
    // Refused requests do not count: one failure is allowed again after 1/10 s.
    assert!(!throttle.throttled("192.0.2.1", START + Duration::milliseconds(100)));
    throttle.record_failure("192.0.2.1", START + Duration::milliseconds(100));
    assert!(throttle.throttled("192.0.2.1", START + Duration::milliseconds(100)));
    // An IPv6 /64 shares one budget.
    for index in 0..5 {
        throttle.record_failure(&format!("2001:db8:1:2::{index}"), START);
    }
    assert!(throttle.throttled("2001:db8:1:2:ffff::1", START));
    assert!(!throttle.throttled("2001:db8:1:3::1", START));
    // Idle entries are forgotten once their budget has refilled.
    assert_eq!(throttle.tracked_sources(), 2);
    throttle.forget_idle(START + Duration::seconds(1));
    assert_eq!(throttle.tracked_sources(), 0);
    assert!(!throttle.throttled("192.0.2.1", START + Duration::seconds(1)));
}

#[test]
fn a_disabled_throttle_never_refuses() {
    let throttle = AuthenticationThrottle::new(AuthenticationFailureLimit::DISABLED);
    for _ in 0..1_000 {
        throttle.record_failure("192.0.2.1", START);
    }
    assert!(!throttle.throttled("192.0.2.1", START));
    assert_eq!(throttle.tracked_sources(), 0);
}
