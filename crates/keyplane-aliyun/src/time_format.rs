//! The one time format Alibaba answers carry: UTC `yyyy-MM-ddTHH:mm:ssZ`.

use time::macros::format_description;
use time::OffsetDateTime;

/// `2015-01-23T12:33:18Z` (UTC, whole seconds).
pub fn iso8601(moment: OffsetDateTime) -> String {
    moment
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}
