//! The permission every Alibaba action needs, and the resources it is asked on, named as RAM
//! names them: IMS and RAM actions are `ram:<Action>` on `acs:ram::{account}:user/{name}` or
//! `acs:ram::{account}:policy/{name}` (system policies: `acs:ram::system:policy/{name}`), SMC
//! actions `smc:<Action>` (authorized at the operation level: `*`), and the EAS token
//! `eas:CreateServiceInstanceToken` on `acs:eas:{cluster}:{account}:service/{service}`. The
//! pipelines authorize every request from these tables before dispatching it, so an action
//! missing here is refused, never run unchecked.

use keyplane_core::authorization::Principal;
use keyplane_core::model::User;
use keyplane_core::{Authority, CoreError, RequestContext};

use crate::actions::Row;
use crate::envelope::Params;
use crate::errors::{AliyunCode, AliyunError};
use crate::ims::UserSelection;
use crate::product::Product;

/// How the resources of an action are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// The user named by `UserPrincipalName` (default: the caller).
    UserOrCaller,
    /// The user named by exactly one of `UserPrincipalName`, `UserId`, `UserAccessKeyId`.
    SelectedUser,
    /// The user `UserPrincipalName` creates.
    NewUser,
    /// Every user of the account.
    AllUsers,
    /// The user named by RAM's `UserName`.
    UserName,
    /// RAM's `UserName` and the policy named by `PolicyType` and `PolicyName`.
    UserAndPolicy,
    /// The custom policy `PolicyName` creates.
    NewPolicy,
    /// The policy named by `PolicyType` (default `Custom`) and `PolicyName`.
    Policy,
    /// Every policy of the account.
    AllPolicies,
    /// Every resource: the action is authorized at the operation level.
    Any,
}

/// The permission of PAI-EAS `CreateServiceInstanceToken` (its resource is the service the
/// path names; see [`eas_service_resource`]).
pub const EAS_CREATE_SERVICE_INSTANCE_TOKEN: &str = "eas:CreateServiceInstanceToken";

/// The action table of an RPC product (see [`crate::actions`]).
pub fn table(product: Product) -> &'static [Row] {
    crate::actions::table(product)
}

/// The row of `action` of `product`, with the permission it needs; `None` for an action the
/// product does not serve.
pub fn permission(product: Product, action: &str) -> Option<&'static Row> {
    crate::actions::find(product, action)
}

/// The code an authorization refusal of `product` carries: RAM's own `NoPermission` for IMS
/// and RAM, `Forbidden.RAM` for the other products.
pub fn denial_code(product: Product) -> AliyunCode {
    match product {
        Product::Ims | Product::Ram => AliyunCode::NoPermission,
        Product::Smc => AliyunCode::ForbiddenRam,
    }
}

/// The EAS service resource: `acs:eas:{cluster}:{account}:service/{service}`.
pub fn eas_service_resource(account_id: u64, cluster: &str, service: &str) -> String {
    format!("acs:eas:{cluster}:{account_id}:service/{service}")
}

/// The user part of a `UserPrincipalName` (`name@domain`), as resources name users.
pub fn principal_name_user(principal_name: &str) -> &str {
    principal_name
        .rsplit_once('@')
        .map_or(principal_name, |(name, _)| name)
}

/// The resources of one request, with what was read from its parameters.
#[derive(Debug)]
pub enum RequestResource {
    /// A user by name; `None` is the caller.
    User(Option<String>),
    /// A user selected by `UserId` or `UserAccessKeyId`: `given` is the request's own text,
    /// `resolved` the user it selects (or why there is none), which the action acts on.
    /// Authorization is asked on the resolved user, but a refusal may only ever name `given`
    /// (see [`RequestResource::as_given`]): the caller must not learn whom an id belongs to.
    SelectedUser {
        given: String,
        resolved: Result<User, CoreError>,
    },
    AllUsers,
    UserAndPolicy {
        user: String,
        system_policy: bool,
        policy: String,
    },
    Policy(String),
    SystemPolicy(String),
    Any,
}

impl RequestResource {
    /// Reads what naming resources of `kind` needs from the parameters. A user selected by
    /// id or access key is looked up (in the caller's account) to be named; one that does not
    /// exist is named by what the request gave, and the action reports it missing if the
    /// request is allowed.
    pub async fn read(
        kind: ResourceKind,
        params: &Params,
        authority: &Authority,
        context: &RequestContext,
    ) -> Result<Self, AliyunError> {
        let text = |name: &str| params.non_empty(name).unwrap_or("").to_owned();
        Ok(match kind {
            ResourceKind::UserOrCaller => RequestResource::User(
                params
                    .non_empty("UserPrincipalName")
                    .map(|name| principal_name_user(name).to_owned()),
            ),
            ResourceKind::NewUser => RequestResource::User(Some(
                principal_name_user(params.required("UserPrincipalName")?).to_owned(),
            )),
            ResourceKind::SelectedUser => match UserSelection::read(params)? {
                UserSelection::PrincipalName(principal_name) => {
                    RequestResource::User(Some(principal_name_user(principal_name).to_owned()))
                }
                selection @ (UserSelection::Id(text) | UserSelection::AccessKey(text)) => {
                    let resolved = match context
                        .caller
                        .as_ref()
                        .and_then(|caller| selection.reference(caller.account_id))
                    {
                        Some(reference) => authority.sub_user(context, reference).await,
                        None => Err(CoreError::UserNotFound),
                    };
                    RequestResource::SelectedUser {
                        given: text.to_owned(),
                        resolved,
                    }
                }
            },
            ResourceKind::AllUsers => RequestResource::AllUsers,
            ResourceKind::AllPolicies => RequestResource::Policy("*".to_owned()),
            ResourceKind::UserName => {
                RequestResource::User(Some(params.required("UserName")?.to_owned()))
            }
            ResourceKind::UserAndPolicy => RequestResource::UserAndPolicy {
                user: params.required("UserName")?.to_owned(),
                system_policy: text("PolicyType") == "System",
                policy: params.required("PolicyName")?.to_owned(),
            },
            ResourceKind::NewPolicy => {
                RequestResource::Policy(params.required("PolicyName")?.to_owned())
            }
            ResourceKind::Policy => {
                let name = params.required("PolicyName")?.to_owned();
                if text("PolicyType") == "System" {
                    RequestResource::SystemPolicy(name)
                } else {
                    RequestResource::Policy(name)
                }
            }
            ResourceKind::Any => RequestResource::Any,
        })
    }

    /// For a user selected by id or access key that exists: the same request as if no user
    /// had been found, named by the request's own text only. A caller refused on the resolved
    /// user is answered as this would be answered (refused naming the text, or the user does
    /// not exist), so the answer is the same whether the id exists or not.
    pub fn as_given(&self) -> Option<RequestResource> {
        match self {
            RequestResource::SelectedUser {
                given,
                resolved: Ok(_),
            } => Some(RequestResource::SelectedUser {
                given: given.clone(),
                resolved: Err(CoreError::UserNotFound),
            }),
            _ => None,
        }
    }

    /// The resource names, for `principal`.
    pub fn names(&self, principal: Principal<'_>) -> Vec<String> {
        let account = principal.account_id;
        let user = |name: &str| format!("acs:ram::{account}:user/{name}");
        match self {
            RequestResource::User(name) => vec![user(name.as_deref().unwrap_or(principal.name))],
            RequestResource::SelectedUser { given, resolved } => {
                let resolved = resolved.as_ref().ok().map(|user| user.name.as_str());
                vec![user(resolved.unwrap_or(given))]
            }
            RequestResource::AllUsers => vec![user("*")],
            RequestResource::UserAndPolicy {
                user: user_name,
                system_policy,
                policy,
            } => vec![
                user(user_name),
                if *system_policy {
                    format!("acs:ram::system:policy/{policy}")
                } else {
                    format!("acs:ram::{account}:policy/{policy}")
                },
            ],
            RequestResource::Policy(name) => vec![format!("acs:ram::{account}:policy/{name}")],
            RequestResource::SystemPolicy(name) => vec![format!("acs:ram::system:policy/{name}")],
            RequestResource::Any => vec!["*".to_owned()],
        }
    }
}
