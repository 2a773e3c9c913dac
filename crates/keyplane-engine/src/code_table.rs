//! The macro that declares a dialect's closed table of wire codes: one enum member per code
//! the dialect can send, each with its HTTP status and default message, so that a code is
//! decided in exactly one place and a constructor can only take a member of the table.
//!
//! ```
//! keyplane_engine::code_table! {
//!     /// Example codes.
//!     pub enum ExampleCode {
//!         /// A parameter is missing.
//!         MissingParameter => ("MissingParameter", 400, "A required parameter is missing."),
//!         NotFound => ("Resource.NotFound", 404, "The resource does not exist."),
//!     }
//! }
//! assert_eq!(ExampleCode::NotFound.code(), "Resource.NotFound");
//! assert_eq!(ExampleCode::NotFound.status(), 404);
//! assert_eq!(ExampleCode::MissingParameter.default_message(), "A required parameter is missing.");
//! assert_eq!(ExampleCode::from_code("Resource.NotFound"), Some(ExampleCode::NotFound));
//! assert_eq!(ExampleCode::ALL.len(), 2);
//! ```

/// Declares a closed code table: an enum with `code()`, `status()`, `default_message()`,
/// `from_code()` and `ALL` (see the module documentation).
#[macro_export]
macro_rules! code_table {
    (
        $(#[$enum_meta:meta])*
        $visibility:vis enum $name:ident {
            $(
                $(#[$member_meta:meta])*
                $member:ident => ($code:literal, $status:literal, $message:literal)
            ),* $(,)?
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $visibility enum $name {
            $(
                $(#[$member_meta])*
                $member,
            )*
        }

        impl $name {
            /// Every member of the table, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$member),*];

            /// The code as the wire carries it.
            pub const fn code(self) -> &'static str {
                match self {
                    $($name::$member => $code,)*
                }
            }

            /// The HTTP status the code is sent with.
            pub const fn status(self) -> u16 {
                match self {
                    $($name::$member => $status,)*
                }
            }

            /// The message sent when the refusal has nothing more specific to say.
            pub const fn default_message(self) -> &'static str {
                match self {
                    $($name::$member => $message,)*
                }
            }

            /// The member whose wire code is `code`, if the table has one.
            pub fn from_code(code: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|member| member.code() == code)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::code_table! {
        /// Codes for the test.
        enum TestCode {
            First => ("First", 400, "first"),
            /// Documented member.
            Second => ("Second.Sub", 503, "second"),
        }
    }

    #[test]
    fn every_member_has_its_code_status_and_message() {
        assert_eq!(TestCode::ALL, &[TestCode::First, TestCode::Second]);
        assert_eq!(TestCode::Second.code(), "Second.Sub");
        assert_eq!(TestCode::Second.status(), 503);
        assert_eq!(TestCode::First.default_message(), "first");
        assert_eq!(TestCode::from_code("Second.Sub"), Some(TestCode::Second));
        assert_eq!(TestCode::from_code("Third"), None);
    }
}
