//! Typed parameters of one action. Each action declares a struct with [`parameters!`]: the
//! wire name of every parameter it takes, the field it fills and the reader that fills it
//! (required or optional, string, integer, list, flag ...). [`decode`] refuses any other
//! top-level parameter (`UnknownParameter`), then reads the fields in the order they are
//! declared, so the first missing (`MissingParameter`) or mistyped (`InvalidParameter`)
//! parameter is the one named, as the actions always did.

use crate::errors::TencentError;
use crate::params::Params;

/// The typed parameters of one action.
pub trait FromParameters: Sized {
    /// Every top-level parameter the action takes.
    const NAMES: &'static [&'static str];

    /// Reads the fields, in their declared order (the names are already checked).
    fn read(parameters: &Params) -> Result<Self, TencentError>;
}

/// The typed parameters of an action: unknown names refused first, then every field read.
pub fn decode<P: FromParameters>(parameters: &Params) -> Result<P, TencentError> {
    parameters.allow_only(P::NAMES)?;
    P::read(parameters)
}

/// A required unsigned integer parameter.
pub fn required_unsigned(parameters: &Params, name: &str) -> Result<u64, TencentError> {
    parameters
        .optional_unsigned(name)?
        .ok_or_else(|| TencentError::missing_parameter(name))
}

/// A required array of strings.
pub fn required_string_list(parameters: &Params, name: &str) -> Result<Vec<String>, TencentError> {
    parameters
        .optional_string_list(name)?
        .ok_or_else(|| TencentError::missing_parameter(name))
}

/// A required, non-empty array of unsigned integers.
pub fn required_unsigned_list(parameters: &Params, name: &str) -> Result<Vec<u64>, TencentError> {
    parameters
        .optional_unsigned_list(name)?
        .filter(|values| !values.is_empty())
        .ok_or_else(|| TencentError::missing_parameter(name))
}

/// An optional 0/1 flag (absent: 0).
pub fn optional_flag(parameters: &Params, name: &str) -> Result<bool, TencentError> {
    match parameters.optional_unsigned(name)? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(_) => Err(TencentError::invalid_value(name, "must be 0 or 1")),
    }
}

/// An optional string, empty when absent.
pub fn string_or_empty(parameters: &Params, name: &str) -> Result<String, TencentError> {
    Ok(parameters.optional_string(name)?.unwrap_or_default())
}

/// `Rp`, which the reader of `Page` reads with it ([`FromParameters::NAMES`] lists it).
pub fn read_with_page(_parameters: &Params, _name: &str) -> Result<(), TencentError> {
    Ok(())
}

/// Declares an action's parameter struct and its [`FromParameters`] implementation:
/// `"WireName" => field: Type = reader,` where `reader(parameters, "WireName")` reads it.
macro_rules! parameters {
    (
        $(#[$meta:meta])*
        $visibility:vis struct $name:ident {
            $($wire:literal => $field:ident: $type:ty = $reader:expr),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        $visibility struct $name {
            $(pub $field: $type,)*
        }

        impl $crate::decode::FromParameters for $name {
            const NAMES: &'static [&'static str] = &[$($wire),*];

            #[allow(unused_variables)]
            fn read(
                parameters: &$crate::params::Params,
            ) -> Result<Self, $crate::errors::TencentError> {
                Ok(Self {
                    $($field: ($reader)(parameters, $wire)?,)*
                })
            }
        }
    };
}

pub(crate) use parameters;
