//! The account and its users: initialising the installation (the account, its root and the
//! root's first keys), creating, finding and deleting sub-users.

use time::OffsetDateTime;

use super::{with_fresh_identifiers, Authority, RequestContext};
use crate::error::CoreError;
use crate::model::{Account, IssuedAccessKey, KeyFamily, Secret, User, UserProfile};
use crate::rules;
use crate::store::{DeleteUser, DeleteUserOptions, NewAccessKey, NewAccount};

/// The result of initialising an installation: the account and the root's secrets, shown once.
#[derive(Debug, Clone)]
pub struct InitializedAccount {
    pub account: Account,
    pub root: User,
    pub tencent_key: IssuedAccessKey,
    pub aliyun_key: IssuedAccessKey,
}

/// How a request names a user of the caller's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserReference<'a> {
    Name(&'a str),
    Uin(u64),
    /// The user holding this access key.
    AccessKey(&'a str),
}

impl Authority {
    /// Creates the installation's account with its root user and one access key of each
    /// family. Fails with `AlreadyInitialized` and changes nothing when an account exists.
    pub async fn initialize(&self, now: OffsetDateTime) -> Result<InitializedAccount, CoreError> {
        let account_id = self.factory.new_account_id();
        let root_template = User {
            account_id,
            uin: account_id,
            name: "root".to_owned(),
            profile: UserProfile::default(),
            created_at: now,
        };
        let (tencent_key, tencent_secret) =
            self.mint_access_key(&root_template, KeyFamily::Tencent, now);
        let (aliyun_key, aliyun_secret) =
            self.mint_access_key(&root_template, KeyFamily::Aliyun, now);
        let (account, root) = self
            .store
            .initialize(
                NewAccount {
                    account_id,
                    root_name: root_template.name.clone(),
                    created_at: now,
                },
                vec![tencent_key.clone(), aliyun_key.clone()],
            )
            .await?;
        let issued = |key: NewAccessKey, secret: Secret| IssuedAccessKey {
            key: key.into_active_key(),
            secret,
        };
        Ok(InitializedAccount {
            account,
            root,
            tencent_key: issued(tencent_key, tencent_secret),
            aliyun_key: issued(aliyun_key, aliyun_secret),
        })
    }

    /// The installation's account.
    pub async fn primary_account(&self) -> Result<Account, CoreError> {
        self.store
            .primary_account()
            .await?
            .ok_or(CoreError::NotInitialized)
    }

    /// Adds a sub-user to the account: an operator (no caller) or an authorized request may.
    pub async fn create_user(
        &self,
        context: &RequestContext,
        account_id: u64,
        name: &str,
        profile: UserProfile,
    ) -> Result<User, CoreError> {
        context.operator_or_authorized(account_id)?;
        rules::check_user_name(name)?;
        with_fresh_identifiers(|| {
            let user = User {
                account_id,
                uin: self.factory.new_user_uin(),
                name: name.to_owned(),
                profile: profile.clone(),
                created_at: context.now,
            };
            let audit = context.success(format!("user/{name}"));
            self.store.create_user(user, audit)
        })
        .await
    }

    /// Every sub-user of the caller's account, oldest first: the root is not among them, as
    /// neither cloud lists the account itself among its users.
    pub async fn list_sub_users(&self, context: &RequestContext) -> Result<Vec<User>, CoreError> {
        let caller = context.authorized_caller()?;
        let mut users = self.store.list_users(caller.account_id).await?;
        users.retain(|user| !user.is_root());
        Ok(users)
    }

    /// The sub-user of the caller's account a request names: `UserNotFound` when there is
    /// none, and for the root, which neither cloud counts among its users.
    pub async fn sub_user(
        &self,
        context: &RequestContext,
        reference: UserReference<'_>,
    ) -> Result<User, CoreError> {
        let caller = context.caller()?;
        let account_id = caller.account_id;
        let user = match reference {
            UserReference::Name(name) => self.store.user_by_name(account_id, name).await?,
            UserReference::Uin(uin) => self.store.user(account_id, uin).await?,
            UserReference::AccessKey(key_id) => {
                match self
                    .store
                    .access_key(key_id)
                    .await?
                    .filter(|key| key.account_id == account_id)
                {
                    Some(key) => self.store.user(account_id, key.owner_uin).await?,
                    None => None,
                }
            }
        };
        user.filter(|user| !user.is_root())
            .ok_or(CoreError::UserNotFound)
    }

    /// The user named `name` in the caller's account, for dialects that name users
    /// (Alibaba `UserPrincipalName`): `UserNotFound` when there is none.
    pub async fn user_named(
        &self,
        context: &RequestContext,
        name: &str,
    ) -> Result<User, CoreError> {
        let caller = context.caller()?;
        self.store
            .user_by_name(caller.account_id, name)
            .await?
            .ok_or(CoreError::UserNotFound)
    }

    /// Deletes a sub-user of the caller's account (never the root:
    /// `RootUserUndeletable`), with its attachments and, per `options`, its access keys,
    /// which stop authenticating at once.
    pub async fn delete_user(
        &self,
        context: &RequestContext,
        uin: u64,
        options: DeleteUserOptions,
    ) -> Result<(), CoreError> {
        let caller = context.authorized_caller()?;
        if uin == caller.account_id {
            return Err(CoreError::RootUserUndeletable);
        }
        let user = self
            .store
            .user(caller.account_id, uin)
            .await?
            .ok_or(CoreError::UserNotFound)?;
        let audit = context.success(format!("user/{}", user.name));
        let deleted_keys = self
            .store
            .delete_user(DeleteUser::new(caller.account_id, uin, options), audit)
            .await;
        self.forget_user_permissions(caller.account_id, uin);
        for key_id in deleted_keys? {
            self.invalidate_key(&key_id);
        }
        Ok(())
    }
}
