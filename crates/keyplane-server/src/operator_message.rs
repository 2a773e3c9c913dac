//! How operator commands print a refused use case: as the core words it, except that a refused
//! value is named by its parameter, as the Alibaba dialect names it (the names of the EAS and
//! SMC documentation an operator works from), and the rule it broke.

use keyplane_core::{CoreError, Violation};

/// The line an operator command prints for `error`.
pub fn describe(error: &CoreError) -> String {
    let CoreError::Invalid { field, violation } = error else {
        return error.to_string();
    };
    let name = keyplane_aliyun::errors::parameter_name(*field);
    match violation {
        Violation::Missing => format!("the parameter {name} is required"),
        Violation::Format => {
            format!(
                "the value of {name} has an invalid format: {}",
                field.format()
            )
        }
        _ => format!(
            "the value of {name} is invalid: {}",
            violation.reason(*field)
        ),
    }
}
