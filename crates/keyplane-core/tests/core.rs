//! The domain's pure parts: lifecycle rules (including EAS names), command templates (splitting,
//! placeholders, expansion, refusals), the GCRA rate limiter on a manual clock, the last-use
//! buffer, redaction of secrets in `Debug`, and (module `refusals`) the aggregation of
//! unauthenticated refusals and the failed-authentication throttle.

#[path = "core/refusals.rs"]
mod refusals;

use keyplane_core::clock::{Clock, ManualClock};
use keyplane_core::model::{InstanceTokenPurpose, KeyUsage, SealedBlob, Secret, Tag};
use keyplane_core::rate_limit::{RateLimiter, RateLimits};
use keyplane_core::rules;
use keyplane_core::template::{self, CommandTemplate, Placeholder, TemplateError, TemplateValues};
use keyplane_core::usage::{latest, UsageTracker};
use keyplane_core::{CoreError, Field, Violation};
use time::macros::datetime;
use time::Duration;

#[test]
fn descriptions_follow_the_documented_pattern() {
    for good in [
        "ci-key",
        "build_42",
        "a+b=c,d.e@f:g/h",
        "密钥",
        &"x".repeat(1024),
    ] {
        assert!(rules::check_description(good).is_ok(), "{good}");
    }
    assert!(matches!(
        rules::check_description("ci key"),
        Err(CoreError::Invalid {
            violation: Violation::Format,
            ..
        })
    ));
    assert!(matches!(
        rules::check_description("tab\there"),
        Err(CoreError::Invalid {
            violation: Violation::Format,
            ..
        })
    ));
    assert!(matches!(
        rules::check_description(""),
        Err(CoreError::Invalid {
            violation: Violation::Length { .. },
            ..
        })
    ));
    assert!(matches!(
        rules::check_description(&"x".repeat(1025)),
        Err(CoreError::Invalid {
            violation: Violation::Length { .. },
            ..
        })
    ));
}

#[test]
fn manual_api_keys_are_5_to_50_and_10_to_50_word_characters() {
    assert!(rules::check_manual_api_key_id("ab_12").is_ok());
    assert!(rules::check_manual_api_key_id(&"a".repeat(50)).is_ok());
    for bad in ["abcd", "ab-12", "ab 12", &"a".repeat(51), "ключ1"] {
        assert!(
            matches!(
                rules::check_manual_api_key_id(bad),
                Err(CoreError::Invalid {
                    violation: Violation::Format,
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert!(rules::check_manual_api_key_secret("0123456789").is_ok());
    assert!(rules::check_manual_api_key_secret("012345678").is_err());
}

#[test]
fn tags_are_bounded_and_unique() {
    let tag = |key: &str, value: &str| Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    assert!(rules::check_tags(&[tag("env", "dev test"), tag("team", "")]).is_ok());
    assert!(rules::check_tags(&[tag("env", "a"), tag("env", "b")]).is_err());
    assert!(rules::check_tags(&[tag("", "a")]).is_err());
    assert!(rules::check_tags(&vec![tag("k", "v"); 51]).is_err());
    assert!(rules::check_secret_name("name").is_ok());
    assert!(rules::check_secret_name("").is_err());
    assert!(rules::check_user_name("alice.smith@corp").is_ok());
    assert!(rules::check_user_name("alice smith").is_err());
}

/// Limits as a dialect publishes them (these are among the Tencent dialect's defaults).
fn tencent_limits() -> RateLimits {
    RateLimits::with_defaults([
        ("cam:CreateAccessKey", 5),
        ("cam:UpdateAccessKey", 5),
        ("cam:ListAccessKeys", 20),
    ])
}

#[test]
fn the_rate_limiter_admits_a_burst_then_one_per_interval() {
    let clock = ManualClock::new(datetime!(2026-11-24 00:00:00 UTC));
    let limiter = RateLimiter::new(tencent_limits());
    for _ in 0..5 {
        assert!(limiter.admit(1, "cam", "CreateAccessKey", clock.now()));
    }
    assert!(!limiter.admit(1, "cam", "CreateAccessKey", clock.now()));
    assert!(
        limiter.admit(2, "cam", "CreateAccessKey", clock.now()),
        "accounts are limited separately"
    );
    assert!(
        limiter.admit(1, "cam", "UpdateAccessKey", clock.now()),
        "actions are limited separately"
    );
    clock.advance(Duration::milliseconds(199));
    assert!(!limiter.admit(1, "cam", "CreateAccessKey", clock.now()));
    clock.advance(Duration::milliseconds(1));
    assert!(limiter.admit(1, "cam", "CreateAccessKey", clock.now()));
    assert!(!limiter.admit(1, "cam", "CreateAccessKey", clock.now()));
    clock.advance(Duration::seconds(10));
    for _ in 0..5 {
        assert!(
            limiter.admit(1, "cam", "CreateAccessKey", clock.now()),
            "the burst refills, no more"
        );
    }
    assert!(!limiter.admit(1, "cam", "CreateAccessKey", clock.now()));
    assert!(
        (0..1000).all(|_| limiter.admit(1, "cam", "GetSecurityLastUsed", clock.now())),
        "unlisted actions are unlimited"
    );
}

#[test]
fn rate_limits_can_be_overridden_and_disabled() {
    let mut limits = tencent_limits();
    assert_eq!(limits.limit("cam:ListAccessKeys"), Some(20));
    limits.set("cam:ListAccessKeys", 100);
    assert_eq!(limits.limit("cam:ListAccessKeys"), Some(100));
    limits.set("cam:ListAccessKeys", 0);
    assert_eq!(limits.limit("cam:ListAccessKeys"), None);
    limits.disable();
    assert_eq!(limits.limit("cam:CreateAccessKey"), None);
}

#[test]
fn the_usage_buffer_keeps_the_latest_use_per_key() {
    let usage = |key: &str, minute: i64, action: &str| KeyUsage {
        key_id: key.to_owned(),
        used_at: datetime!(2026-11-24 00:00:00 UTC) + Duration::minutes(minute),
        product: "cam".to_owned(),
        action: action.to_owned(),
        source_address: "127.0.0.1".to_owned(),
    };
    let tracker = UsageTracker::default();
    tracker.record(usage("a", 5, "Later"));
    tracker.record(usage("a", 1, "Earlier"));
    tracker.record(usage("b", 2, "Other"));
    assert_eq!(tracker.pending("a").unwrap().action, "Later");
    let mut drained = tracker.drain();
    drained.sort_by(|left, right| left.key_id.cmp(&right.key_id));
    assert_eq!(drained.len(), 2);
    assert!(tracker.pending("a").is_none());
    tracker.record(usage("a", 9, "Newest"));
    tracker.restore(drained);
    assert_eq!(
        tracker.pending("a").unwrap().action,
        "Newest",
        "a restore never overwrites a newer use"
    );
    assert_eq!(
        latest(Some(usage("a", 1, "x")), Some(usage("a", 2, "y")))
            .unwrap()
            .action,
        "y"
    );
    assert_eq!(latest(None, Some(usage("a", 2, "y"))).unwrap().action, "y");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let secret = Secret::new("TopSecretValue".to_owned());
    assert!(!format!("{secret:?}").contains("TopSecretValue"));
    assert_eq!(secret.expose(), "TopSecretValue");
    let sealed = SealedBlob {
        key_version: 3,
        ciphertext: b"TopSecretValue".to_vec(),
    };
    let printed = format!("{sealed:?}");
    assert!(printed.contains("key_version: 3") && !printed.contains("84, 111"));
}

#[test]
fn activation_code_names_follow_the_smc_rules() {
    for good in [
        "ci",
        "ci-token",
        "Rack7:batch_2",
        "迁移任务",
        "迁移-01",
        "é-accented",
    ] {
        assert!(rules::check_activation_code_name(good).is_ok(), "{good}");
    }
    let long_enough = format!("a{}", "b".repeat(127));
    assert!(rules::check_activation_code_name(&long_enough).is_ok());
    for bad in [
        "a",
        "1token",
        "-token",
        "_token",
        "http://token",
        "https://token",
        "HTTP://token",
        "token name",
        "token.name",
        "token/name",
        "",
    ] {
        assert!(
            matches!(
                rules::check_activation_code_name(bad),
                Err(CoreError::Invalid {
                    field: Field::ActivationCodeName,
                    violation: Violation::Format,
                })
            ),
            "{bad}"
        );
    }
    assert!(rules::check_activation_code_name(&format!("{long_enough}c")).is_err());
}

#[test]
fn activation_code_counts_and_lifetimes_are_bounded() {
    for count in [1, 100, 1000] {
        assert!(rules::check_activation_code_count(count).is_ok());
    }
    for count in [0, 1001, u32::MAX] {
        assert!(matches!(
            rules::check_activation_code_count(count),
            Err(CoreError::Invalid {
                field: Field::ActivationCodeCount,
                ..
            })
        ));
    }
    for days in [1, 30, 90] {
        assert!(rules::check_activation_code_days(days).is_ok());
    }
    for days in [0, 91] {
        assert!(matches!(
            rules::check_activation_code_days(days),
            Err(CoreError::Invalid {
                field: Field::ActivationCodeLifetime,
                ..
            })
        ));
    }
    assert!(rules::check_activation_code_description("").is_ok());
    assert!(rules::check_activation_code_description("for CI run 7").is_ok());
    assert!(rules::check_activation_code_description("http://example").is_err());
    assert!(rules::check_activation_code_description(&"x".repeat(257)).is_err());
}

#[test]
fn activation_code_status_follows_use_age_and_disabling() {
    use keyplane_core::model::{ActivationCode, ActivationCodeStatus};
    let created = datetime!(2026-11-24 00:00 UTC);
    let mut code = ActivationCode {
        id: "at-x".to_owned(),
        account_id: 1,
        name: "ci".to_owned(),
        description: String::new(),
        code_hash: vec![1; 32],
        count: 2,
        registered_count: 0,
        time_to_live_days: 1,
        disabled: false,
        created_at: created,
        expires_at: created + Duration::days(1),
    };
    assert_eq!(code.status(created), ActivationCodeStatus::Unactivated);
    code.registered_count = 2;
    assert_eq!(code.status(created), ActivationCodeStatus::Activated);
    assert_eq!(
        code.status(created + Duration::days(1)),
        ActivationCodeStatus::Expired
    );
    code.disabled = true;
    assert_eq!(code.status(created), ActivationCodeStatus::Expired);
    assert!(!format!("{code:?}").contains("code_hash"));
}

#[test]
fn eas_names_are_letters_digits_dots_underscores_and_dashes() {
    for good in [
        "cn-hangzhou",
        "my_service",
        "my-service-5d8f-abcde",
        "worker0",
        "a",
        "0.9_x-y",
        &"a".repeat(128),
    ] {
        assert!(
            rules::check_eas_name(Field::EasServiceName, good).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "",
        "-rf",
        ".hidden",
        "_x",
        "a b",
        "a/b",
        "..",
        "a;b",
        "$(id)",
        "a'b",
        "a\"b",
        "a\nb",
        "a\0b",
        "ünïcode",
        "{worker}",
        &"a".repeat(129),
    ] {
        assert!(
            matches!(
                rules::check_eas_name(Field::EasServiceName, bad),
                Err(CoreError::Invalid {
                    field: Field::EasServiceName,
                    violation: Violation::Format,
                })
            ),
            "{bad:?}"
        );
    }
}

fn values() -> TemplateValues<'static> {
    TemplateValues {
        cluster: "cn-shanghai",
        service: "svc",
        instance: "svc-5d8f",
        worker: "worker0",
    }
}

#[test]
fn templates_split_like_a_shell_without_expansion() {
    let template = CommandTemplate::parse(
        "  kubectl exec -it {instance} -c {worker}\t--\n sh -c 'echo \"$HOME\" | cat; {{literal}}' \
         \"a \\\"b\\\" \\\\ \\n\" plain\\ space '' \"\" --label={cluster}/{service}",
    )
    .unwrap();
    assert_eq!(
        template.expand(&values()),
        [
            "kubectl",
            "exec",
            "-it",
            "svc-5d8f",
            "-c",
            "worker0",
            "--",
            "sh",
            "-c",
            "echo \"$HOME\" | cat; {literal}",
            "a \"b\" \\ \\n",
            "plain space",
            "",
            "",
            "--label=cn-shanghai/svc",
        ]
    );
    assert_eq!(
        template.placeholders(),
        [
            Placeholder::Instance,
            Placeholder::Worker,
            Placeholder::Cluster,
            Placeholder::Service
        ]
    );
    // Shell syntax is literal: no operator splits a word, no variable expands.
    assert_eq!(
        CommandTemplate::parse("docker exec {instance} ls;rm $PATH>x")
            .unwrap()
            .expand(&values()),
        ["docker", "exec", "svc-5d8f", "ls;rm", "$PATH>x"]
    );
}

#[test]
fn stored_words_give_back_the_same_template() {
    let template =
        CommandTemplate::parse("sh -c 'exec kubectl logs -f {instance} # {{not}} a \"x\"' ''")
            .unwrap();
    let words = template.words();
    assert_eq!(
        words,
        [
            "sh",
            "-c",
            "exec kubectl logs -f {instance} # {{not}} a \"x\"",
            ""
        ]
    );
    let reloaded = CommandTemplate::from_words(words).unwrap();
    assert_eq!(reloaded, template);
    assert_eq!(
        reloaded.expand(&values()),
        [
            "sh",
            "-c",
            "exec kubectl logs -f svc-5d8f # {not} a \"x\"",
            ""
        ]
    );
    // Stored words are not split again.
    assert_eq!(
        CommandTemplate::from_words(vec!["/bin/echo".to_owned(), "a b {worker}".to_owned()])
            .unwrap()
            .expand(&values()),
        ["/bin/echo", "a b worker0"]
    );
}

#[test]
fn malformed_templates_are_refused() {
    for (text, expected) in [
        ("", TemplateError::Empty),
        ("   \t\n ", TemplateError::Empty),
        ("sh -c 'unterminated", TemplateError::UnterminatedQuote),
        ("sh -c \"unterminated", TemplateError::UnterminatedQuote),
        ("sh -c \"ends in \\", TemplateError::UnterminatedQuote),
        ("sh trailing\\", TemplateError::TrailingBackslash),
        (
            "sh {instance} {pod}",
            TemplateError::UnknownPlaceholder("pod".to_owned()),
        ),
        ("sh {}", TemplateError::UnknownPlaceholder(String::new())),
        (
            "sh {Instance}",
            TemplateError::UnknownPlaceholder("Instance".to_owned()),
        ),
        ("sh {instance", TemplateError::UnclosedPlaceholder),
        ("sh {inst{ance}", TemplateError::UnclosedPlaceholder),
        ("sh instance}", TemplateError::UnmatchedClosingBrace),
        (
            "sh '${HOME}'",
            TemplateError::UnknownPlaceholder("HOME".to_owned()),
        ),
        ("{instance} exec", TemplateError::ProgramNotFixed),
        ("/usr/bin/{worker}sh", TemplateError::ProgramNotFixed),
        ("'' exec", TemplateError::ProgramNotFixed),
        ("sh -c 'a\0b'", TemplateError::NulCharacter),
        (
            &"x ".repeat(129),
            TemplateError::TooManyWords {
                limit: template::MAX_TEMPLATE_WORDS,
            },
        ),
        (
            &format!("sh {}", "x".repeat(4096)),
            TemplateError::TooLong {
                limit: template::MAX_TEMPLATE_BYTES,
            },
        ),
    ] {
        assert_eq!(CommandTemplate::parse(text), Err(expected), "{text:?}");
    }
    assert!(CommandTemplate::parse("sh '${{HOME}}'").is_ok());
    assert_eq!(
        CommandTemplate::from_words(Vec::new()),
        Err(TemplateError::Empty)
    );
    assert_eq!(
        CommandTemplate::from_words(vec!["sh".to_owned(), "}".to_owned()]),
        Err(TemplateError::UnmatchedClosingBrace)
    );
}

#[test]
fn instance_token_purposes_round_trip_their_names() {
    for purpose in InstanceTokenPurpose::ALL {
        assert_eq!(InstanceTokenPurpose::parse(purpose.as_str()), Some(purpose));
    }
    assert_eq!(InstanceTokenPurpose::parse("Workbench"), None);
    assert_eq!(
        InstanceTokenPurpose::ALL.map(InstanceTokenPurpose::redemption_action),
        ["OpenWorkbench", "OpenTerminal", "OpenStreamlog"]
    );
}
