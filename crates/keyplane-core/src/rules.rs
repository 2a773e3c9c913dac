//! Lifecycle rules that do not depend on stored state: formats and bounds of client-chosen
//! values. Each check names the domain [`Field`] it rejects and the [`Violation`].

use crate::error::CoreError;
use crate::model::Tag;
use crate::validation::{Field, Violation};

/// At most this many access keys per user per family, inactive ones included.
pub const ACCESS_KEYS_PER_USER: u32 = 2;
/// The default number of API Gateway keys one account may hold.
pub const DEFAULT_API_KEYS_PER_ACCOUNT: u32 = 500;
/// The longest access key description accepted.
pub const DESCRIPTION_MAX_CHARACTERS: usize = 1024;
/// The longest API key `SecretName` accepted.
pub const SECRET_NAME_MAX_CHARACTERS: usize = 60;
/// The most tags one API key may carry.
pub const TAGS_MAX: usize = 50;

/// The length bounds of a caller-chosen API Gateway key id.
pub const MANUAL_API_KEY_ID_LENGTH: (usize, usize) = (5, 50);
/// The length bounds of a caller-chosen API Gateway key secret.
pub const MANUAL_API_KEY_SECRET_LENGTH: (usize, usize) = (10, 50);

/// `Err` of the value given for `field` breaking `violation`.
fn refuse(field: Field, violation: Violation) -> Result<(), CoreError> {
    Err(CoreError::invalid(field, violation))
}

/// The value must be `minimum` to `maximum` printable characters.
fn check_printable(
    field: Field,
    value: &str,
    minimum: usize,
    maximum: usize,
) -> Result<(), CoreError> {
    let length = value.chars().count();
    if length < minimum || length > maximum || has_control_characters(value) {
        return refuse(field, Violation::Printable { minimum, maximum });
    }
    Ok(())
}

fn has_control_characters(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// An access key description, as CAM documents it: 1 to 1024 characters matching
/// `[\w+=,.@:/-]*` (word characters, which include letters of any script, digits and `_`).
pub fn check_description(description: &str) -> Result<(), CoreError> {
    let length = description.chars().count();
    if length == 0 || length > DESCRIPTION_MAX_CHARACTERS {
        return refuse(
            Field::AccessKeyDescription,
            Violation::Length {
                minimum: 1,
                maximum: DESCRIPTION_MAX_CHARACTERS,
            },
        );
    }
    let allowed = |character: char| character.is_alphanumeric() || "_+=,.@:/-".contains(character);
    if !description.chars().all(allowed) {
        return refuse(Field::AccessKeyDescription, Violation::Format);
    }
    Ok(())
}

/// A user name: 1 to 64 of letters, digits and `+=,.@_-`.
pub fn check_user_name(name: &str) -> Result<(), CoreError> {
    let valid_characters = name
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || "+=,.@_-".contains(character));
    if name.is_empty() || name.len() > 64 || !valid_characters {
        return refuse(Field::UserName, Violation::Format);
    }
    Ok(())
}

fn is_key_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// A caller-chosen API Gateway key id or secret: `minimum` to `maximum` of `[A-Za-z0-9_]`.
fn check_manual_api_key_part(
    field: Field,
    value: &str,
    (minimum, maximum): (usize, usize),
) -> Result<(), CoreError> {
    if value.len() < minimum || value.len() > maximum || !value.chars().all(is_key_character) {
        return refuse(field, Violation::Format);
    }
    Ok(())
}

/// A manual API key id: 5 to 50 of `[A-Za-z0-9_]`.
pub fn check_manual_api_key_id(value: &str) -> Result<(), CoreError> {
    check_manual_api_key_part(Field::ApiKeyId, value, MANUAL_API_KEY_ID_LENGTH)
}

/// A manual API key secret: 10 to 50 of `[A-Za-z0-9_]`.
pub fn check_manual_api_key_secret(value: &str) -> Result<(), CoreError> {
    check_manual_api_key_part(Field::ApiKeySecret, value, MANUAL_API_KEY_SECRET_LENGTH)
}

/// An API key `SecretName`: 1 to 60 characters, no control characters.
pub fn check_secret_name(name: &str) -> Result<(), CoreError> {
    check_printable(Field::ApiKeyName, name, 1, SECRET_NAME_MAX_CHARACTERS)
}

/// API key tags: at most 50, keys 1 to 127 characters, values at most 255, keys unique.
pub fn check_tags(tags: &[Tag]) -> Result<(), CoreError> {
    if tags.len() > TAGS_MAX {
        return refuse(
            Field::ApiKeyTags,
            Violation::EntryCount {
                minimum: 0,
                maximum: TAGS_MAX,
            },
        );
    }
    for (index, tag) in tags.iter().enumerate() {
        check_printable(Field::ApiKeyTagKey { index }, &tag.key, 1, 127)?;
        check_printable(Field::ApiKeyTagValue { index }, &tag.value, 0, 255)?;
        if tags[..index].iter().any(|earlier| earlier.key == tag.key) {
            return refuse(
                Field::ApiKeyTagKey { index },
                Violation::Duplicate {
                    value: tag.key.clone(),
                },
            );
        }
    }
    Ok(())
}

/// The default number of registrations an activation code allows (SMC `Count`).
pub const DEFAULT_ACTIVATION_CODE_COUNT: u32 = 100;
/// The most registrations an activation code may allow.
pub const MAX_ACTIVATION_CODE_COUNT: u32 = 1000;
/// The default lifetime of an activation code, in days (SMC `TimeToLiveInDays`).
pub const DEFAULT_ACTIVATION_CODE_DAYS: u32 = 30;
/// The longest lifetime of an activation code, in days.
pub const MAX_ACTIVATION_CODE_DAYS: u32 = 90;
/// The longest activation code description accepted.
pub const ACTIVATION_CODE_DESCRIPTION_MAX_CHARACTERS: usize = 256;

/// Whether `character` is a CJK ideograph (the unified blocks and their extensions).
fn is_cjk(character: char) -> bool {
    matches!(u32::from(character),
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

fn starts_with_url_scheme(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// An SMC activation code `Name`: 2 to 128 characters, starting with a letter or a CJK
/// character, not with `http://` or `https://`, and otherwise letters, digits, `:`, `_`, `-`.
pub fn check_activation_code_name(name: &str) -> Result<(), CoreError> {
    let length = name.chars().count();
    let first_is_letter = name
        .chars()
        .next()
        .is_some_and(|first| first.is_alphabetic() || is_cjk(first));
    let allowed = |character: char| {
        character.is_alphanumeric() || is_cjk(character) || ":_-".contains(character)
    };
    if !(2..=128).contains(&length)
        || !first_is_letter
        || starts_with_url_scheme(name)
        || !name.chars().all(allowed)
    {
        return refuse(Field::ActivationCodeName, Violation::Format);
    }
    Ok(())
}

/// An SMC activation code `Description`: at most 256 printable characters, not starting with
/// `http://` or `https://`.
pub fn check_activation_code_description(description: &str) -> Result<(), CoreError> {
    if description.chars().count() > ACTIVATION_CODE_DESCRIPTION_MAX_CHARACTERS
        || has_control_characters(description)
        || starts_with_url_scheme(description)
    {
        return refuse(
            Field::ActivationCodeDescription,
            Violation::PrintableNotUrl {
                maximum: ACTIVATION_CODE_DESCRIPTION_MAX_CHARACTERS,
            },
        );
    }
    Ok(())
}

/// An activation code's `Count`: 1 to 1000.
pub fn check_activation_code_count(count: u32) -> Result<(), CoreError> {
    check_from_one(Field::ActivationCodeCount, count, MAX_ACTIVATION_CODE_COUNT)
}

/// An activation code's `TimeToLiveInDays`: 1 to 90.
pub fn check_activation_code_days(days: u32) -> Result<(), CoreError> {
    check_from_one(
        Field::ActivationCodeLifetime,
        days,
        MAX_ACTIVATION_CODE_DAYS,
    )
}

/// A number from 1 to `maximum`: `OutOfRange` otherwise.
fn check_from_one(field: Field, value: u32, maximum: u32) -> Result<(), CoreError> {
    if !(1..=maximum).contains(&value) {
        return refuse(
            field,
            Violation::OutOfRange {
                minimum: 1,
                maximum: maximum.into(),
            },
        );
    }
    Ok(())
}

/// What a migration agent sends about its source server when it registers: each field 1 to
/// 128 printable characters (the fingerprint 8 to 256).
pub fn check_source_server_field(
    field: Field,
    value: &str,
    minimum: usize,
    maximum: usize,
) -> Result<(), CoreError> {
    check_printable(field, value, minimum, maximum)
}

/// The longest EAS cluster, service, instance or worker name.
pub const EAS_NAME_MAX_CHARACTERS: usize = 128;
/// The default lifetime of an instance token.
pub const DEFAULT_INSTANCE_TOKEN_TTL_SECONDS: i64 = 300;
/// The longest lifetime an instance token may be configured with (one day).
pub const MAX_INSTANCE_TOKEN_TTL_SECONDS: i64 = 86_400;

/// Whether `value` is an EAS name: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`.
pub fn is_eas_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= EAS_NAME_MAX_CHARACTERS
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(byte))
}

/// An EAS cluster (region), service, instance or worker name: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`.
/// These are the only values ever substituted into an operator's command template, so they
/// can hold no whitespace, quote, shell character or path separator, and never start with `-`.
pub fn check_eas_name(field: Field, value: &str) -> Result<(), CoreError> {
    if !is_eas_name(value) {
        return refuse(field, Violation::Format);
    }
    Ok(())
}

/// The most custom policies one account may hold (RAM's and CAM's documented quota).
pub const CUSTOM_POLICIES_PER_ACCOUNT: u32 = 1_500;
/// The most policies one user may have attached (CAM's documented limit).
pub const ATTACHED_POLICIES_PER_USER: u32 = 200;
