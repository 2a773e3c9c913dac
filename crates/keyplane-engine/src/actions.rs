//! The shape of a dialect's action table: each action declared once, with everything the
//! pipeline derives from it (dispatch, the permission, how its resource is named, its default
//! rate limit). A dialect supplies its own resource kinds and handler type.

/// One action of a product, declared once.
#[derive(Debug)]
pub struct ActionRow<ResourceKind: 'static, Handler: 'static> {
    /// The product, as rate limits and the audit name it (`cam`, `ims`).
    pub product: &'static str,
    /// The action's wire name (`CreateAccessKey`).
    pub name: &'static str,
    /// The permission it needs, as policies write it (`cam:CreateAccessKey`).
    pub permission: &'static str,
    /// How the resource it is asked on is named.
    pub resource: ResourceKind,
    /// The default rate limit per account, in requests per second (`None`: unlimited), which
    /// the operator may change.
    pub rate_limit: Option<u32>,
    /// What performs it.
    pub handler: Handler,
}

impl<ResourceKind, Handler> ActionRow<ResourceKind, Handler> {
    /// The rate-limit name of the action, `product:Action`.
    pub fn rate_limit_name(&self) -> String {
        format!("{}:{}", self.product, self.name)
    }
}

/// The row of `table` named `name`.
pub fn find<'t, ResourceKind, Handler>(
    table: &'t [ActionRow<ResourceKind, Handler>],
    name: &str,
) -> Option<&'t ActionRow<ResourceKind, Handler>> {
    table.iter().find(|row| row.name == name)
}

/// The default rate limits the rows of `table` declare, as (`product:Action`, per second).
pub fn default_rate_limits<ResourceKind, Handler>(
    table: &[ActionRow<ResourceKind, Handler>],
) -> impl Iterator<Item = (String, u32)> + '_ {
    table.iter().filter_map(|row| {
        row.rate_limit
            .map(|per_second| (row.rate_limit_name(), per_second))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[ActionRow<(), ()>] = &[
        ActionRow {
            product: "cam",
            name: "CreateAccessKey",
            permission: "cam:CreateAccessKey",
            resource: (),
            rate_limit: Some(5),
            handler: (),
        },
        ActionRow {
            product: "cam",
            name: "GetUser",
            permission: "cam:GetUser",
            resource: (),
            rate_limit: None,
            handler: (),
        },
    ];

    #[test]
    fn rows_are_found_by_name_and_give_their_default_limits() {
        assert_eq!(
            find(TABLE, "GetUser").map(|row| row.permission),
            Some("cam:GetUser")
        );
        assert!(find(TABLE, "getuser").is_none());
        assert_eq!(
            default_rate_limits(TABLE).collect::<Vec<_>>(),
            [("cam:CreateAccessKey".to_owned(), 5)]
        );
    }
}
